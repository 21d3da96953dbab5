"""Conversion mistakes (wrong config, wrong script, missing files) stop with ``error: ...``, exit 2."""
import json
import shutil

import pytest
import torch

from tests.test_conversion_scripts import VOCAB, bert_config, perturb, run_script, t5_config

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bert")
    perturb(transformers.BertForPreTraining(bert_config())).save_pretrained(folder)
    return folder


def fails(capsys, script, *args):
    capsys.readouterr()  # drop what fixtures printed (save_pretrained's progress bar)
    code = run_script(script, *args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and "Traceback" not in err, err
    return err


def edited_config(folder, tmp_path, **changes):
    copy = tmp_path / "edited"
    shutil.copytree(folder, copy)
    config = json.load(open(copy / "config.json"))
    config.update(changes)
    json.dump(config, open(copy / "config.json", "w"))
    return copy


def test_config_with_another_layer_count(bert_folder, tmp_path, capsys):
    folder = edited_config(bert_folder, tmp_path, num_hidden_layers=4)
    err = fails(capsys, "convert_bert_from_huggingface_to_uer", "--input_model_path", str(folder),
                "--output_model_path", str(tmp_path / "out.bin"))
    assert "4 layers" in err and "hold 2" in err
    assert not (tmp_path / "out.bin").exists()


def test_config_with_another_hidden_size(bert_folder, tmp_path, capsys):
    folder = edited_config(bert_folder, tmp_path, hidden_size=64, intermediate_size=64)
    err = fails(capsys, "convert_bert_from_huggingface_to_uer", "--input_model_path", str(folder),
                "--output_model_path", str(tmp_path / "out.bin"))
    assert "hidden_size 64" in err and "[99, 32]" in err


def test_layers_num_flag_against_weights(bert_folder, tmp_path, capsys):
    err = fails(capsys, "convert_bert_from_huggingface_to_uer", "--input_model_path", str(bert_folder),
                "--output_model_path", str(tmp_path / "out.bin"), "--layers_num", "3")
    assert "--layers_num 3" in err


def test_script_of_another_architecture(bert_folder, tmp_path, capsys):
    err = fails(capsys, "convert_gpt2_from_huggingface_to_uer", "--input_model_path", str(bert_folder),
                "--output_model_path", str(tmp_path / "out.bin"))
    assert "'bert' model" in err


def test_uer_checkpoint_of_another_architecture(bert_folder, tmp_path, capsys):
    assert run_script("convert_bert_from_huggingface_to_uer", "--input_model_path", str(bert_folder),
                      "--output_model_path", str(tmp_path / "bert.bin"), "--no_check") == 0
    err = fails(capsys, "convert_albert_from_uer_to_huggingface", "--input_model_path", str(tmp_path / "bert.bin"),
                "--output_model_path", str(tmp_path / "back"))
    assert "albert" in err


def test_t5_type_against_weights(tmp_path, capsys):
    perturb(transformers.T5ForConditionalGeneration(t5_config(transformers.T5Config))).save_pretrained(tmp_path / "t5")
    err = fails(capsys, "convert_t5_from_huggingface_to_uer", "--input_model_path", str(tmp_path / "t5"),
                "--output_model_path", str(tmp_path / "out.bin"), "--type", "mt5")
    assert "--type mt5" in err


def test_missing_input_and_missing_config(bert_folder, tmp_path, capsys):
    fails(capsys, "convert_bert_from_huggingface_to_uer", "--input_model_path", str(tmp_path / "nothing"),
          "--output_model_path", str(tmp_path / "out.bin"))
    torch.save(transformers.BertModel(bert_config()).state_dict(), tmp_path / "bare.bin")
    err = fails(capsys, "convert_bert_from_huggingface_to_uer", "--input_model_path", str(tmp_path / "bare.bin"),
                "--output_model_path", str(tmp_path / "out.bin"), "--check")
    assert "--check" in err
    # Without a config the weights still convert (report only), but a folder for from_pretrained cannot be made.
    assert run_script("convert_bert_from_huggingface_to_uer", "--input_model_path", str(tmp_path / "bare.bin"),
                      "--output_model_path", str(tmp_path / "out.bin")) == 0
    assert "no config.json found" in capsys.readouterr().out
    err = fails(capsys, "convert_bert_from_uer_to_huggingface", "--input_model_path", str(tmp_path / "out.bin"),
                "--output_model_path", str(tmp_path / "folder"))
    assert "sidecar" in err


def test_classifier_pooled_otherwise_than_first_token(tmp_path, capsys):
    hf = perturb(transformers.BertForSequenceClassification(bert_config(num_labels=2)))
    hf.save_pretrained(tmp_path / "hf")
    assert run_script("convert_bert_text_classification_from_huggingface_to_uer", "--input_model_path",
                      str(tmp_path / "hf"), "--output_model_path", str(tmp_path / "cls.bin"), "--no_check") == 0
    sidecar = tmp_path / "cls.bin.config.json"
    json.dump(dict(json.load(open(sidecar)), pooling="mean"), open(sidecar, "w"))
    err = fails(capsys, "convert_bert_text_classification_from_uer_to_huggingface", "--input_model_path",
                str(tmp_path / "cls.bin"), "--output_model_path", str(tmp_path / "back"))
    assert "first token" in err
    assert VOCAB == hf.config.vocab_size
