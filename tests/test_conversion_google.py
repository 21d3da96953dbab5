"""Google TensorFlow BERT checkpoints <-> UER: a tiny checkpoint written here with TensorFlow's own
Saver under Google's variable names, converted to UER (parity with transformers) and back."""
import json
import os
import re

import numpy as np
import pytest
import torch

from tests.test_conversion_scripts import TOL, VOCAB, bert_config, hf_forward, inputs, max_diff, parity_diffs, \
    perturb, run_script
from uer.model_builder import build_model, model_args
from uer.model_loader import load_model

tf = pytest.importorskip("tensorflow")
transformers = pytest.importorskip("transformers")


def google_name(hf_key):
    """Google's name for a transformers BertForPreTraining key, and whether the tensor is a kernel."""
    name = re.sub(r"layer\.(\d+)", r"layer_\1", hf_key).replace(".", "/")
    name = name.replace("LayerNorm/weight", "LayerNorm/gamma").replace("LayerNorm/bias", "LayerNorm/beta")
    if name == "cls/predictions/bias":
        return "cls/predictions/output_bias", False
    if name.startswith("cls/seq_relationship/"):  # stored [2 x H], used with transpose_b
        return name.replace("/weight", "/output_weights").replace("/bias", "/output_bias"), False
    if name.endswith("embeddings/weight"):
        return name[:-len("/weight")], False
    if name.endswith("/weight"):
        return name[:-len("weight")] + "kernel", True
    return name, False


def write_google_checkpoint(hf, folder, with_nsp=True):
    """bert_model.ckpt (+ an optimizer slot and global_step, as training checkpoints have) and bert_config.json."""
    variables = {}
    for key, tensor in hf.state_dict().items():
        if key.startswith("cls.predictions.decoder") or key.endswith("position_ids"):
            continue
        if not with_nsp and (key.startswith("cls.seq_relationship") or "pooler" in key):
            continue
        name, kernel = google_name(key)
        variables[name] = (tensor.t() if kernel else tensor).numpy()
    variables["global_step"] = np.array(7, dtype=np.int64)
    variables["bert/embeddings/word_embeddings/adam_m"] = np.zeros((VOCAB, 32), np.float32)
    graph = tf.Graph()
    with graph.as_default():
        for name, value in variables.items():
            tf.compat.v1.Variable(value, name=name)
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, os.path.join(folder, "bert_model.ckpt"))
    config = {key: getattr(hf.config, key) for key in (
        "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
        "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
        "initializer_range")}
    json.dump(config, open(os.path.join(folder, "bert_config.json"), "w"))
    return variables


def test_google_to_uer_and_back(tmp_path, capsys):
    hf = perturb(transformers.BertForPreTraining(bert_config()))
    variables = write_google_checkpoint(hf, tmp_path)
    assert run_script("convert_bert_from_google_to_uer", "--input_model_path", str(tmp_path / "bert_model.ckpt"),
                      "--output_model_path", str(tmp_path / "uer.bin")) == 0
    report = capsys.readouterr().out
    assert "absent from the TensorFlow (0)" in report and "dropped from the TensorFlow (0)" in report, report
    assert max(parity_diffs(report).values()) < TOL

    # Our model on the converted weights computes what transformers computes on the original ones.
    options = json.load(open(tmp_path / "uer.bin.config.json"))
    model = build_model(model_args(dict(options, dropout=0.0)), VOCAB).eval()
    loaded = load_model(model, str(tmp_path / "uer.bin"))
    assert not loaded.missing and not loaded.unexpected
    src, seg = inputs()
    expected = hf_forward(hf, src, seg, "bert")
    with torch.no_grad():
        memory = model.encode(src, seg)
        assert max_diff(model.target.mlm_logits(memory), expected.prediction_logits, seg) < TOL
        assert max_diff(model.target.pair_logits(memory), expected.seq_relationship_logits) < TOL

    out = tmp_path / "back" / "bert_model.ckpt"
    assert run_script("convert_bert_from_uer_to_google", "--input_model_path", str(tmp_path / "uer.bin"),
                      "--output_model_path", str(out)) == 0
    report = capsys.readouterr().out
    assert "dropped from the UER (0)" in report and max(parity_diffs(report).values()) < TOL
    reader = tf.train.load_checkpoint(str(out))
    written = reader.get_variable_to_shape_map()
    model_variables = {k: v for k, v in variables.items() if k != "global_step" and not k.endswith("adam_m")}
    assert set(written) == set(model_variables)
    for name, value in model_variables.items():
        assert np.array_equal(reader.get_tensor(name), value), name
    assert json.load(open(tmp_path / "back" / "bert_config.json"))["num_hidden_layers"] == 2
    assert sorted(os.listdir(tmp_path / "back")) == ["bert_config.json", "bert_model.ckpt.data-00000-of-00001",
                                                      "bert_model.ckpt.index"]


def test_mlm_only_checkpoint_and_untied_output(tmp_path, capsys):
    hf = perturb(transformers.BertForMaskedLM(bert_config()))
    write_google_checkpoint(hf, tmp_path, with_nsp=False)
    os.remove(tmp_path / "checkpoint")  # as Google's downloads: the folder is enough
    assert run_script("convert_bert_from_google_to_uer", "--input_model_path", str(tmp_path),
                      "--output_model_path", str(tmp_path / "uer.safetensors")) == 0
    report = capsys.readouterr().out
    assert "absent from the TensorFlow (0)" in report  # --target mlm chosen from the weights
    assert set(parity_diffs(report)) == {"logits"} and max(parity_diffs(report).values()) < TOL
    # An untied output layer cannot be expressed in Google's format: a note, not a silent loss.
    from safetensors.torch import load_file, save_file

    state = load_file(str(tmp_path / "uer.safetensors"))
    state["target.mlm_linear_2.weight"] = state["target.mlm_linear_2.weight"] + 1.0
    save_file(state, str(tmp_path / "untied.safetensors"))
    assert run_script("convert_bert_from_uer_to_google", "--input_model_path", str(tmp_path / "untied.safetensors"),
                      "--output_model_path", str(tmp_path / "out" / "bert_model.ckpt"), "--target", "mlm") == 0
    report = capsys.readouterr().out
    assert "target.mlm_linear_2.weight differs" in report and "dropped from the UER (1)" in report


def test_not_a_checkpoint(tmp_path, capsys):
    assert run_script("convert_bert_from_google_to_uer", "--input_model_path", str(tmp_path / "missing.ckpt"),
                      "--output_model_path", str(tmp_path / "uer.bin")) == 2
    assert capsys.readouterr().err.startswith("error: ")
