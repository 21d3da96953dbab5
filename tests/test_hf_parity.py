"""Converted Hugging Face models compute what ``transformers`` computes (random tiny weights, fp32)."""
import pytest
import torch

from uer.conversion.core import hf_to_uer, uer_to_hf
from uer.conversion.hf_config import uer_options
from uer.conversion.tables import ALBERT, BERT, GPT2, ROBERTA, T5, T5_V1_1
from uer.model_builder import build_embedding_encoder, build_model, model_args
from uer.model_loader import load_state_dict_into

transformers = pytest.importorskip("transformers")
TOL = 1e-5
VOCAB = 99


def perturb(model):
    """Random values everywhere (norm weights and biases too) so a wrong mapping cannot hide."""
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.02)
    return model.eval()


def convert(hf_model, table, target=None, **overrides):
    state, report = hf_to_uer(hf_model.state_dict(), table, target=target)
    options = uer_options(table, hf_model.config.to_dict())
    options.update(dropout=0.0, **overrides)
    if target:
        options["target"] = target
    model = build_model(model_args(options), VOCAB).eval()
    loaded = load_state_dict_into(model, state)
    assert not loaded.unexpected, loaded.unexpected
    return model, loaded, report


def inputs(batch=3, length=9, pad=True):
    torch.manual_seed(1)
    src = torch.randint(5, VOCAB, (batch, length))
    seg = torch.ones(batch, length, dtype=torch.long)
    seg[:, length // 2:] = 2
    if pad:
        seg[1, 6:] = 0
        src[1, 6:] = 0
    return src, seg


def hf_mask(seg):
    return (seg > 0).long(), (seg == 2).long()


def max_diff(a, b, seg=None):
    if seg is not None:  # padded positions are not defined identically; compare real tokens
        keep = seg > 0
        a, b = a[keep], b[keep]
    return (a - b).abs().max().item()


def bert_config(**kw):
    return transformers.BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                   intermediate_size=37, max_position_embeddings=64, **kw)


def test_bert_for_pretraining_mlm_and_nsp_logits():
    hf = perturb(transformers.BertForPreTraining(bert_config()))
    model, loaded, report = convert(hf, BERT, target="bert")
    assert not loaded.missing and not report.absent and not report.dropped
    src, seg = inputs()
    attention_mask, token_type = hf_mask(seg)
    with torch.no_grad():
        expected = hf(input_ids=src, attention_mask=attention_mask, token_type_ids=token_type)
        memory = model.encode(src, seg)
        mlm = model.target.mlm_logits(memory)
        nsp = model.target.pair_logits(memory)
    assert max_diff(mlm, expected.prediction_logits, seg) < TOL
    assert max_diff(nsp, expected.seq_relationship_logits) < TOL


def test_bare_bert_model_without_prefix_and_heads():
    hf = perturb(transformers.BertModel(bert_config(), add_pooling_layer=False))
    state, report = hf_to_uer(hf.state_dict(), BERT, target="mlm")
    assert any("cls.predictions" in key for key in report.absent)  # heads absent: reported, no crash
    options = dict(uer_options(BERT, hf.config.to_dict()), dropout=0.0)
    embedding, encoder = build_embedding_encoder(model_args(options), VOCAB)
    stack = torch.nn.ModuleDict({"embedding": embedding, "encoder": encoder}).eval()
    loaded = load_state_dict_into(stack, state)
    assert not loaded.missing and not loaded.unexpected
    src, seg = inputs()
    attention_mask, token_type = hf_mask(seg)
    with torch.no_grad():
        expected = hf(input_ids=src, attention_mask=attention_mask, token_type_ids=token_type).last_hidden_state
        ours = encoder(embedding(src, seg), seg)
    assert max_diff(ours, expected, seg) < TOL


def test_roberta_position_offset():
    config = transformers.RobertaConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                        intermediate_size=37, max_position_embeddings=66, type_vocab_size=1)
    hf = perturb(transformers.RobertaForMaskedLM(config))
    model, loaded, report = convert(hf, ROBERTA, target="mlm")
    assert not loaded.missing
    src, seg = inputs(pad=False)
    seg = torch.ones_like(seg)
    with torch.no_grad():
        expected = hf(input_ids=src).logits
        ours = model.target.mlm_logits(model.encode(src, seg))
    assert max_diff(ours, expected) < TOL


def test_gpt2_logits():
    config = transformers.GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                     bos_token_id=0, eos_token_id=0)
    hf = perturb(transformers.GPT2LMHeadModel(config))
    model, loaded, report = convert(hf, GPT2, target="lm")
    assert not loaded.missing and not report.dropped
    src, seg = inputs(pad=False)
    seg = torch.ones_like(seg)
    with torch.no_grad():
        expected = hf(input_ids=src).logits
        ours = model.target.output_layer(model.encode(src, seg))
    assert max_diff(ours, expected) < TOL


def test_albert_factorized_shared_mlm_and_sop_logits():
    config = transformers.AlbertConfig(vocab_size=VOCAB, embedding_size=16, hidden_size=32, num_hidden_layers=3,
                                       num_attention_heads=4, intermediate_size=37, max_position_embeddings=64)
    hf = perturb(transformers.AlbertForPreTraining(config))
    model, loaded, report = convert(hf, ALBERT, target="albert", layers_num=3)
    assert not loaded.missing and not report.absent and not report.dropped
    src, seg = inputs()
    attention_mask, token_type = hf_mask(seg)
    with torch.no_grad():
        expected = hf(input_ids=src, attention_mask=attention_mask, token_type_ids=token_type)
        memory = model.encode(src, seg)
        mlm = model.target.mlm_logits(memory)
        sop = model.target.pair_logits(memory)
    assert max_diff(mlm, expected.prediction_logits, seg) < TOL
    assert max_diff(sop, expected.sop_logits) < TOL


@pytest.mark.parametrize("gated", [False, True], ids=["t5-v1.0", "t5-v1.1"])
def test_t5_encoder_states_and_decoder_logits(gated):
    config = transformers.T5Config(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                                   feed_forward_proj="gated-gelu" if gated else "relu",
                                   tie_word_embeddings=not gated, decoder_start_token_id=0)
    hf = perturb(transformers.T5ForConditionalGeneration(config))
    table = T5_V1_1 if gated else T5
    model, loaded, report = convert(hf, table)
    assert not loaded.missing, loaded.missing
    src, seg = inputs()
    seg = (seg > 0).long()
    tgt = torch.randint(2, VOCAB, (3, 6))
    with torch.no_grad():
        expected = hf(input_ids=src, attention_mask=seg, decoder_input_ids=tgt)
        memory = model.encode(src, seg)
        logits, _ = model.target.decode(memory, seg, tgt)
    assert max_diff(memory, expected.encoder_last_hidden_state, seg) < TOL
    assert max_diff(logits, expected.logits) < 1e-4 * expected.logits.abs().max().item() + TOL


@pytest.mark.parametrize("table,make", [
    (BERT, lambda: transformers.BertForPreTraining(bert_config())),
    (GPT2, lambda: transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2,
                                                                        n_head=4, n_positions=64))),
], ids=["bert", "gpt2"])
def test_round_trip_uer_to_hf_restores_every_tensor(table, make):
    hf = perturb(make())
    original = hf.state_dict()
    target = "bert" if table is BERT else "lm"
    uer_state, _ = hf_to_uer(original, table, target=target)
    back, report = uer_to_hf(uer_state, table, target=target)
    for key, tensor in back.items():
        assert torch.equal(tensor, original[key]), key
    missing = [k for k in original if k not in back and not k.endswith(("attn.bias", "masked_bias"))]
    assert not missing, missing
