"""Every Hugging Face <-> UER conversion script on tiny random models saved with save_pretrained.

Each case converts to UER (parity printed by --check), back to a folder that transformers'
``from_pretrained`` loads unchanged, and compares outputs with the original model (fp32, 1e-5).
"""
import json
import os
import re
import runpy
import sys
from dataclasses import dataclass
from typing import Callable, Dict, Tuple

import pytest
import torch
from safetensors.torch import save_file

from tests.conftest import REPO
from uer.model_builder import build_embedding_encoder, model_args
from uer.model_loader import load_model
from uer.models.classifier import Classifier
from uer.models.tagger import Tagger

transformers = pytest.importorskip("transformers")
TOL = 1e-5
VOCAB = 99


def run_script(name: str, *args: str) -> int:
    """Run scripts/<name>.py in this process (as ``python scripts/<name>.py args``); its exit status."""
    path = os.path.join(REPO, "scripts", name + ".py")
    saved = sys.argv
    sys.argv = [path, *args]
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as stop:
        return stop.code or 0
    finally:
        sys.argv = saved
    return 0


def convert(name: str, *args: str, capsys=None) -> str:
    code = run_script(name, *args)
    out = capsys.readouterr() if capsys else None
    assert code == 0, (out.out + out.err) if out else code
    return out.out if out else ""


def parity_diffs(report: str) -> Dict[str, float]:
    """The numbers of the ``parity check ... max abs difference name value, ...`` line."""
    line = next(line for line in report.splitlines() if line.startswith("parity check"))
    pairs = line.split("max abs difference ")[1].split(", ")
    return {name: float(value) for name, value in (pair.split(" ") for pair in pairs)}


def perturb(model):
    """Random values everywhere (norms and biases too) so a wrong mapping cannot hide."""
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.02)
    return model.eval()


def bert_config(**kw):
    return transformers.BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                   intermediate_size=37, max_position_embeddings=64, **kw)


def t5_config(cls, **kw):
    return cls(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4, decoder_start_token_id=0, **kw)


def inputs(batch=3, length=10):
    generator = torch.Generator().manual_seed(1)
    src = torch.randint(5, VOCAB, (batch, length), generator=generator)
    seg = torch.ones(batch, length, dtype=torch.long)
    seg[:, length // 2:] = 2
    seg[1, 7:] = 0
    src[seg == 0] = 0
    return src, seg


def hf_forward(model, src, seg, kind: str):
    kwargs = {"input_ids": src, "attention_mask": (seg > 0).long()}
    if kind in ("bert", "albert"):
        kwargs["token_type_ids"] = (seg == 2).long()
    if kind == "t5":
        kwargs["decoder_input_ids"] = torch.arange(6).repeat(src.size(0), 1) + 7
    with torch.no_grad():
        return model(**kwargs)


def max_diff(a, b, seg=None):
    if seg is not None and a.dim() >= 2 and a.shape[:2] == seg.shape:  # real tokens only
        a, b = a[seg > 0], b[seg > 0]
    return (a - b).abs().max().item()


@dataclass
class Case:
    script: str  # convert_<script>_from_...
    make: Callable[[], "transformers.PreTrainedModel"]
    kind: str  # how transformers is called: bert, albert, roberta, gpt2, t5
    outputs: Tuple[str, ...]


def _untie_lm_head(model):
    """Hub T5 v1.1 / mT5 checkpoints have an lm_head of their own (transformers 5 builds it tied)."""
    model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.lm_head.weight) * 0.5)
    return model


CASES = {
    "bert": Case("bert", lambda: transformers.BertForPreTraining(bert_config()), "bert",
                 ("prediction_logits", "seq_relationship_logits")),
    "bert-mlm": Case("bert", lambda: transformers.BertForMaskedLM(bert_config()), "bert", ("logits",)),
    "roberta": Case("roberta", lambda: transformers.RobertaForMaskedLM(transformers.RobertaConfig(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=66, type_vocab_size=1)), "roberta", ("logits",)),
    "albert": Case("albert", lambda: transformers.AlbertForPreTraining(transformers.AlbertConfig(
        vocab_size=VOCAB, embedding_size=16, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
        intermediate_size=37, max_position_embeddings=64)), "albert", ("prediction_logits", "sop_logits")),
    "gpt2": Case("gpt2", lambda: transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64, bos_token_id=98, eos_token_id=98)),
        "gpt2", ("logits",)),
    "t5": Case("t5", lambda: transformers.T5ForConditionalGeneration(t5_config(transformers.T5Config)), "t5",
               ("logits",)),
    "t5-v1_1": Case("t5", lambda: _untie_lm_head(transformers.T5ForConditionalGeneration(t5_config(
        transformers.T5Config, feed_forward_proj="gated-gelu", tie_word_embeddings=False))), "t5", ("logits",)),
    "mt5": Case("t5", lambda: _untie_lm_head(transformers.MT5ForConditionalGeneration(
        t5_config(transformers.MT5Config))), "t5", ("logits",)),
    "text_classification": Case("bert_text_classification", lambda: transformers.BertForSequenceClassification(
        bert_config(num_labels=3)), "bert", ("logits",)),
    "token_classification": Case("bert_token_classification", lambda: transformers.BertForTokenClassification(
        bert_config(id2label={0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"})), "bert", ("logits",)),
    "extractive_qa": Case("bert_extractive_qa", lambda: transformers.BertForQuestionAnswering(bert_config()), "bert",
                          ("start_logits", "end_logits")),
    "roberta_extractive_qa": Case("roberta_extractive_qa", lambda: transformers.BertForQuestionAnswering(
        bert_config()), "bert", ("start_logits", "end_logits")),
}


def save_hf(model, folder, weights: str = "model.safetensors"):
    """What a hub folder holds: config.json + weights (tied tensors once, untied ones separately)."""
    os.makedirs(folder, exist_ok=True)
    config = model.config.to_dict()
    if isinstance(model, (transformers.T5ForConditionalGeneration, transformers.MT5ForConditionalGeneration)):
        untied = not torch.equal(model.lm_head.weight, model.shared.weight)
        config["tie_word_embeddings"] = not untied
        config.pop("scale_decoder_outputs", None)
    skip = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}
    state = {key: value.detach().clone().contiguous() for key, value in model.state_dict().items() if key not in skip}
    if weights.endswith(".safetensors"):
        save_file(state, os.path.join(folder, weights))
    else:
        torch.save(state, os.path.join(folder, weights))
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as handle:
        json.dump(config, handle)
    return folder


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_parity_and_from_pretrained(name, tmp_path, capsys):
    case = CASES[name]
    original = perturb(case.make())
    # Alternate the weight formats so both are read and written across the cases.
    binary = list(CASES).index(name) % 2 == 1
    hf_dir = save_hf(original, tmp_path / "hf", "pytorch_model.bin" if binary else "model.safetensors")
    uer_path = str(tmp_path / ("uer.bin" if binary else "uer.safetensors"))
    source = str(hf_dir / "pytorch_model.bin") if binary else str(hf_dir)
    report = convert(f"convert_{case.script}_from_huggingface_to_uer", "--input_model_path", source,
                     "--output_model_path", uer_path, capsys=capsys)
    assert "absent from the Hugging Face (0)" in report, report
    assert "dropped from the Hugging Face (0)" in report, report
    diffs = parity_diffs(report)
    assert set(diffs) == set(case.outputs) and max(diffs.values()) < TOL, diffs
    assert os.path.exists(uer_path + ".config.json")

    back = tmp_path / "back"
    report = convert(f"convert_{case.script}_from_uer_to_huggingface", "--input_model_path", uer_path,
                     "--output_model_path", str(back), "--no_tokenizer", capsys=capsys)
    assert "dropped from the UER (0)" in report, report
    assert max(parity_diffs(report).values()) < TOL
    config = json.load(open(back / "config.json"))
    assert config["architectures"] == [type(original).__name__]
    reloaded = getattr(transformers, config["architectures"][0]).from_pretrained(back).eval()
    src, seg = inputs()
    expected, got = hf_forward(original, src, seg, case.kind), hf_forward(reloaded, src, seg, case.kind)
    for output in case.outputs:
        assert max_diff(getattr(got, output), getattr(expected, output), seg) < TOL, output
    restored = reloaded.state_dict()
    for key, tensor in original.state_dict().items():
        if key == "roberta.embeddings.position_embeddings.weight":  # rows 0-1 only serve padding (see note)
            assert "position rows 0..1" in report
            restored[key], tensor = restored[key][2:], tensor[2:]
        assert torch.equal(restored[key], tensor), key


def _uer_sidecar(path):
    return json.load(open(str(path) + ".config.json"))


def test_text_classification_head_matches_bert_for_sequence_classification(tmp_path, capsys):
    hf = perturb(transformers.BertForSequenceClassification(bert_config(num_labels=3)))
    hf.save_pretrained(tmp_path / "hf")
    convert("convert_bert_text_classification_from_huggingface_to_uer", "--input_model_path", str(tmp_path / "hf"),
            "--output_model_path", str(tmp_path / "cls.bin"), "--no_check", capsys=capsys)
    options = _uer_sidecar(tmp_path / "cls.bin")
    assert options["labels_num"] == 3 and options["pooling"] == "first" and "target" not in options
    args = model_args(dict(options, dropout=0.0))
    model = Classifier(*build_embedding_encoder(args, VOCAB), args.hidden_size, options["labels_num"], "first").eval()
    report = load_model(model, str(tmp_path / "cls.bin"))
    assert not report.missing and not report.unexpected
    src, seg = inputs()
    with torch.no_grad():
        ours = model({"src": src, "seg": seg})["logits"]
    assert max_diff(ours, hf_forward(hf, src, seg, "bert").logits) < TOL


def test_token_classification_head_matches_bert_for_token_classification(tmp_path, capsys):
    labels = {0: "O", 1: "B-PER", 2: "I-PER"}
    hf = perturb(transformers.BertForTokenClassification(bert_config(id2label=labels)))
    hf.save_pretrained(tmp_path / "hf")
    convert("convert_bert_token_classification_from_huggingface_to_uer", "--input_model_path", str(tmp_path / "hf"),
            "--output_model_path", str(tmp_path / "ner.bin"), "--no_check", capsys=capsys)
    options = _uer_sidecar(tmp_path / "ner.bin")
    assert options["label2id"] == {"O": 0, "B-PER": 1, "I-PER": 2}
    state = torch.load(tmp_path / "ner.bin", weights_only=True)
    assert state["output_layer.weight"].shape == (4, 32)  # tags + UER-py's unused [PAD] row
    args = model_args(dict(options, dropout=0.0))
    model = Tagger(*build_embedding_encoder(args, VOCAB), args.hidden_size, len(options["label2id"])).eval()
    report = load_model(model, str(tmp_path / "ner.bin"))
    assert not report.missing and not report.unexpected
    src, seg = inputs()
    with torch.no_grad():
        emissions = model.output_layer(model.encode({"src": src, "seg": seg}))[..., :model.tags_num]
        pred = model({"src": src, "seg": seg})["pred"]
    expected = hf_forward(hf, src, seg, "bert").logits
    assert max_diff(emissions, expected, seg) < TOL
    assert torch.equal(pred[seg > 0], expected.argmax(-1)[seg > 0])


def test_extractive_qa_head_matches_bert_for_question_answering(tmp_path, capsys):
    """run_cmrc's head (not in uer/models yet): ``output_layer`` [2 x H], row 0 start, row 1 end."""
    hf = perturb(transformers.BertForQuestionAnswering(bert_config()))
    hf.save_pretrained(tmp_path / "hf")
    convert("convert_bert_extractive_qa_from_huggingface_to_uer", "--input_model_path", str(tmp_path / "hf"),
            "--output_model_path", str(tmp_path / "qa.bin"), "--no_check", capsys=capsys)
    state = torch.load(tmp_path / "qa.bin", weights_only=True)
    assert state["output_layer.weight"].shape == (2, 32)
    args = model_args(dict(_uer_sidecar(tmp_path / "qa.bin"), dropout=0.0))
    embedding, encoder = build_embedding_encoder(args, VOCAB)
    model = torch.nn.ModuleDict({"embedding": embedding, "encoder": encoder,
                                 "output_layer": torch.nn.Linear(32, 2)}).eval()
    model.load_state_dict(state)
    src, seg = inputs()
    with torch.no_grad():
        logits = model["output_layer"](encoder(embedding(src, seg), seg))
    expected = hf_forward(hf, src, seg, "bert")
    assert max_diff(logits[..., 0], expected.start_logits, seg) < TOL
    assert max_diff(logits[..., 1], expected.end_logits, seg) < TOL


def test_bare_model_reports_absent_heads_and_round_trips(tmp_path, capsys):
    hf = perturb(transformers.BertModel(bert_config(), add_pooling_layer=False))
    hf.save_pretrained(tmp_path / "hf")
    report = convert("convert_bert_from_huggingface_to_uer", "--input_model_path", str(tmp_path / "hf"),
                     "--output_model_path", str(tmp_path / "uer.bin"), capsys=capsys)
    absent = re.search(r"absent from the Hugging Face \((\d+)\): (.*)", report)
    assert int(absent.group(1)) == 10 and "cls.predictions.bias" in absent.group(2) and "pooler" in absent.group(2)
    assert parity_diffs(report)["last_hidden_state"] < TOL
    report = convert("convert_bert_from_uer_to_huggingface", "--input_model_path", str(tmp_path / "uer.bin"),
                     "--output_model_path", str(tmp_path / "back"), "--no_tokenizer", capsys=capsys)
    assert "target.mlm_linear_2.weight" in report.split("absent from the UER")[1]
    reloaded = transformers.BertModel.from_pretrained(tmp_path / "back", add_pooling_layer=False).eval()
    src, seg = inputs()
    assert max_diff(hf_forward(reloaded, src, seg, "bert").last_hidden_state,
                    hf_forward(hf, src, seg, "bert").last_hidden_state, seg) < TOL


def test_t5_encoder_only_model_and_type_flag(tmp_path, capsys):
    hf = perturb(transformers.T5EncoderModel(t5_config(transformers.T5Config)))
    hf.save_pretrained(tmp_path / "hf")
    report = convert("convert_t5_from_huggingface_to_uer", "--input_model_path", str(tmp_path / "hf"),
                     "--output_model_path", str(tmp_path / "uer.bin"), "--type", "t5", capsys=capsys)
    assert "decoder.block.0.layer.0.SelfAttention.q.weight" in report.split("absent from")[1]
    assert parity_diffs(report)["last_hidden_state"] < TOL


def test_uer_to_hf_single_file_outputs(tmp_path, capsys):
    hf = perturb(transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2,
                                                                      n_head=4, n_positions=64)))
    hf.save_pretrained(tmp_path / "hf")
    convert("convert_gpt2_from_huggingface_to_uer", "--input_model_path", str(tmp_path / "hf" / "model.safetensors"),
            "--output_model_path", str(tmp_path / "uer.bin"), capsys=capsys)
    convert("convert_gpt2_from_uer_to_huggingface", "--input_model_path", str(tmp_path / "uer.bin"),
            "--output_model_path", str(tmp_path / "gpt2.safetensors"), "--no_check", capsys=capsys)
    assert sorted(os.listdir(tmp_path)) == ["gpt2.safetensors", "hf", "uer.bin", "uer.bin.config.json"]
    # A standard weight file name gets its config.json, so the folder loads with from_pretrained.
    convert("convert_gpt2_from_uer_to_huggingface", "--input_model_path", str(tmp_path / "uer.bin"),
            "--output_model_path", str(tmp_path / "out" / "pytorch_model.bin"), "--no_tokenizer",
            capsys=capsys)
    reloaded = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "out").eval()
    src, seg = inputs()
    seg = (seg > 0).long()
    assert max_diff(hf_forward(reloaded, src, seg, "gpt2").logits, hf_forward(hf, src, seg, "gpt2").logits, seg) < TOL


UER_BERT = {"emb_size": 32, "hidden_size": 32, "feedforward_size": 37, "heads_num": 4, "layers_num": 2,
            "max_seq_length": 64, "layernorm_eps": 1e-12, "embedding": "word_pos_seg", "encoder": "transformer",
            "mask": "fully_visible", "layernorm_positioning": "post", "dropout": 0.0, "pooling": "first"}


@pytest.mark.parametrize("task", ["classification", "tagging"])
def test_uer_fine_tuned_heads_load_in_transformers(task, tmp_path, capsys):
    """A head trained in UER (not converted from HF first) gives the same logits in transformers."""
    from uer.model_saver import save_model

    args = model_args(dict(UER_BERT, vocab_size=VOCAB))
    if task == "classification":
        model, extra, script = Classifier.from_args(args, VOCAB, 3), {"labels_num": 3}, "bert_text_classification"
    else:
        label2id = {"O": 0, "B-ORG": 1, "I-ORG": 2, "B-LOC": 3}
        model, extra, script = Tagger.from_args(args, VOCAB, 4), {"label2id": label2id}, "bert_token_classification"
    perturb(model)
    save_model(model, str(tmp_path / "ft.bin"), args, extra=extra)
    report = convert(f"convert_{script}_from_uer_to_huggingface", "--input_model_path", str(tmp_path / "ft.bin"),
                     "--output_model_path", str(tmp_path / "hf"), "--no_tokenizer", capsys=capsys)
    assert max(parity_diffs(report).values()) < TOL
    hf_class = transformers.BertForSequenceClassification if task == "classification" \
        else transformers.BertForTokenClassification
    hf = hf_class.from_pretrained(tmp_path / "hf").eval()
    src, seg = inputs()
    with torch.no_grad():
        if task == "classification":
            ours = model({"src": src, "seg": seg})["logits"]
        else:
            ours = model.output_layer(model.encode({"src": src, "seg": seg}))[..., :4]
            assert hf.config.id2label == {0: "O", 1: "B-ORG", 2: "I-ORG", 3: "B-LOC"}
    assert max_diff(ours, hf_forward(hf, src, seg, "bert").logits, seg) < TOL


def test_t5_v1_1_exported_as_mt5(tmp_path, capsys):
    original = perturb(CASES["t5-v1_1"].make())
    save_hf(original, tmp_path / "hf")
    convert("convert_t5_from_huggingface_to_uer", "--input_model_path", str(tmp_path / "hf"),
            "--output_model_path", str(tmp_path / "uer.bin"), "--no_check", capsys=capsys)
    report = convert("convert_t5_from_uer_to_huggingface", "--input_model_path", str(tmp_path / "uer.bin"),
                     "--output_model_path", str(tmp_path / "mt5"), "--type", "mt5", "--no_tokenizer",
                     capsys=capsys)
    assert report.count("parity check (mt5") == 1 and max(parity_diffs(report).values()) < TOL
    reloaded = transformers.AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "mt5").eval()
    assert isinstance(reloaded, transformers.MT5ForConditionalGeneration)
    src, seg = inputs()
    assert max_diff(hf_forward(reloaded, src, seg, "t5").logits, hf_forward(original, src, seg, "t5").logits) < TOL
