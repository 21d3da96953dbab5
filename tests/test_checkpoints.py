"""Checkpoints: UER-py key names, sidecar, round trips, wrappers, safetensors, clear mismatch errors."""
import json
import logging

import pytest
import torch

from tests.helpers import VOCAB, batch_for, tiny_args
from uer.model_builder import build_model
from uer.model_loader import load_model, load_state_dict_file
from uer.model_saver import save_model
from uer.utils.errors import UserInputError


def keys_of(**options):
    return list(build_model(tiny_args(**options), VOCAB).state_dict())


def test_bert_keys_and_count_match_uer_py():
    keys = keys_of(target="bert", layers_num=12)
    assert len(keys) == 207  # reference section 6.1: bert base has 207 tensors
    assert len(keys_of(target="mlm", layers_num=12)) == 203
    for key in ["embedding.word_embedding.weight", "embedding.position_embedding.weight",
                "embedding.segment_embedding.weight", "embedding.layer_norm.gamma", "embedding.layer_norm.beta",
                "encoder.transformer.11.self_attn.linear_layers.0.weight",
                "encoder.transformer.0.self_attn.final_linear.bias", "encoder.transformer.0.layer_norm_1.gamma",
                "encoder.transformer.0.feed_forward.linear_1.weight", "encoder.transformer.0.layer_norm_2.beta",
                "target.mlm_linear_1.weight", "target.layer_norm.gamma", "target.mlm_linear_2.bias",
                "target.nsp_linear_1.weight", "target.nsp_linear_2.bias"]:
        assert key in keys, key
    segment = build_model(tiny_args(target="bert"), VOCAB).embedding.segment_embedding.weight
    assert segment.shape[0] == 3


def test_albert_gpt2_t5_rnn_cnn_key_names():
    albert = keys_of(target="albert", factorized_embedding_parameterization=True, parameter_sharing=True,
                     emb_size=16, layers_num=12)
    assert len(albert) == 33 and "encoder.linear.weight" in albert
    assert "encoder.transformer.self_attn.linear_layers.0.weight" in albert
    gpt2 = keys_of(embedding="word_pos", remove_embedding_layernorm=True, mask="causal",
                   layernorm_positioning="pre", target="lm", tie_weights=True)
    assert {"encoder.layer_norm.gamma", "target.output_layer.weight"} <= set(gpt2)
    assert not any(k.startswith("embedding.layer_norm") for k in gpt2)
    t5 = keys_of(embedding="word", tgt_embedding="word", remove_embedding_layernorm=True,
                 relative_position_embedding=True, layernorm_positioning="pre", layernorm="t5",
                 remove_transformer_bias=True, target="t5", feed_forward="gated")
    for key in ["encoder.relative_pos_emb.relative_attention_bias.weight", "encoder.layer_norm.gamma",
                "encoder.transformer.0.feed_forward.linear_gate.weight",
                "target.decoder.transformer_decoder.1.context_attn.linear_layers.2.weight",
                "target.decoder.transformer_decoder.0.layer_norm_3.gamma", "target.decoder.layer_norm.gamma",
                "target.decoder.self_pos_emb.relative_attention_bias.weight",
                "target.embedding.word_embedding.weight", "target.output_layer.weight"]:
        assert key in t5, key
    assert not any(k.endswith(".bias") or k.endswith(".beta") for k in t5 if "relative" not in k)
    lstm = keys_of(embedding="word", encoder="lstm", target="lm")
    assert {"encoder.rnn.weight_ih_l0", "encoder.rnn.bias_hh_l1", "embedding.layer_norm.gamma"} <= set(lstm)
    bilstm = keys_of(embedding="word", encoder="bilstm", target="bilm")
    assert {"encoder.rnn_forward.weight_ih_l0", "encoder.rnn_backward.weight_hh_l1"} <= set(bilstm)
    cnn = keys_of(embedding="word", encoder="gatedcnn", target="lm", layers_num=3)
    assert {"encoder.conv_1.weight", "encoder.gate_b1", "encoder.conv.1.weight", "encoder.gate_b.0"} <= set(cnn)
    sinusoid = keys_of(embedding="word_sinusoidalpos", tgt_embedding="word_sinusoidalpos", target="seq2seq")
    assert {"embedding.pe", "target.embedding.pe"} <= set(sinusoid)


@pytest.mark.parametrize("suffix", [".bin", ".safetensors"])
def test_round_trip_same_function_and_sidecar(tmp_path, suffix):
    args = tiny_args(target="mlm", tie_weights=True, hidden_act="gelu_fast")
    model = build_model(args, VOCAB).eval()
    path = str(tmp_path / ("model" + suffix))
    save_model(model, path, args)
    sidecar = json.loads(open(path + ".config.json").read())
    assert sidecar["hidden_act"] == "gelu_fast" and sidecar["tie_weights"] is True
    state = load_state_dict_file(path)
    assert "target.mlm_linear_2.weight" in state and "embedding.word_embedding.weight" in state  # tied: both
    other = build_model(args, VOCAB).eval()
    report = load_model(other, path)
    assert not report.missing and not report.unexpected
    batch = batch_for("mlm")
    with torch.no_grad():
        assert torch.equal(model(batch)["loss"], other(batch)["loss"])
    assert other.target.mlm_linear_2.weight is other.embedding.word_embedding.weight


def test_wrapper_prefixes_and_legacy_format(tmp_path):
    model = build_model(tiny_args(target="mlm"), VOCAB)
    state = {"module._orig_mod." + k: v for k, v in model.state_dict().items()}
    path = tmp_path / "wrapped.bin"
    torch.save(state, path, _use_new_zipfile_serialization=False)  # the pre-1.6 format
    report = load_model(build_model(tiny_args(target="mlm"), VOCAB), str(path))
    assert not report.missing and not report.unexpected


def test_pretrained_into_other_target_reports_keys(tmp_path, caplog):
    path = str(tmp_path / "bert.bin")
    save_model(build_model(tiny_args(target="bert"), VOCAB), path)
    with caplog.at_level(logging.INFO):
        report = load_model(build_model(tiny_args(target="lm", mask="causal"), VOCAB), path)
    assert "target.output_layer.weight" in report.missing
    assert "target.nsp_linear_1.weight" in report.unexpected
    assert "missing" in caplog.text and "unused" in caplog.text


def test_shape_mismatch_is_a_clear_error(tmp_path):
    path = str(tmp_path / "small.bin")
    save_model(build_model(tiny_args(target="mlm"), VOCAB), path)
    with pytest.raises(UserInputError, match="hidden|shape"):
        load_model(build_model(tiny_args(target="mlm", hidden_size=64, emb_size=64), VOCAB), path)


def test_unreadable_file_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.bin"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(UserInputError, match="junk.bin"):
        load_state_dict_file(str(path))
