"""uer.generation: sampling filters, and cached decoding giving exactly what full recomputation gives
(GPT-2-style causal transformer, T5 and transformer seq2seq decoders), plus parity with transformers."""
import pytest
import torch

from uer.generation import (Sampling, can_cache, detokenize, filter_logits, generate_lm, generate_seq2seq,
                            next_tokens)
from uer.model_builder import build_model, model_args
from uer.utils.errors import UserInputError

pytestmark = pytest.mark.usefixtures("one_thread")

VOCAB = 99
SIZES = dict(emb_size=32, hidden_size=32, feedforward_size=64, heads_num=4, layers_num=2, max_seq_length=64,
             dropout=0.0)
GPT2 = dict(SIZES, hidden_act="gelu_fast", layernorm_eps=1e-5, embedding="word_pos", remove_embedding_layernorm=True,
            encoder="transformer", mask="causal", layernorm_positioning="pre", target="lm", tie_weights=True)
T5 = dict(SIZES, attention_head_size=8, hidden_act="relu", embedding="word", tgt_embedding="word",
          remove_embedding_layernorm=True, relative_position_embedding=True, encoder="transformer",
          decoder="transformer", mask="fully_visible", layernorm_positioning="pre", layernorm="t5",
          remove_transformer_bias=True, remove_attention_scale=True, target="t5", share_embedding=True,
          tie_weights=True)
SEQ2SEQ = dict(SIZES, embedding="word_pos_seg", tgt_embedding="word_pos_seg", encoder="transformer",
               decoder="transformer", mask="fully_visible", target="seq2seq")
LSTM = dict(SIZES, embedding="word", encoder="lstm", target="lm")
GATEDCNN = dict(SIZES, embedding="word", encoder="gatedcnn", target="lm", layers_num=3, kernel_size=3, block_size=2)

LM_VARIANTS = {
    "gpt2": GPT2,
    "gpt2-untied-bias": dict(GPT2, tie_weights=False, has_lmtarget_bias=True),
    "post-ln-word_pos_seg": dict(GPT2, embedding="word_pos_seg", remove_embedding_layernorm=False,
                                 layernorm_positioning="post"),
    "relative-position": dict(GPT2, embedding="word", relative_position_embedding=True),
    "albert-style": dict(GPT2, emb_size=16, factorized_embedding_parameterization=True, parameter_sharing=True,
                         tie_weights=False),
    "sinusoidal": dict(GPT2, embedding="word_sinusoidalpos"),
}
SEQ2SEQ_VARIANTS = {
    "t5-v1.0": T5,
    "t5-v1.1": dict(T5, feed_forward="gated", hidden_act="gelu_fast", tie_weights=False),
    "transformer": SEQ2SEQ,
    "transformer-pre-ln-sinusoidal": dict(SEQ2SEQ, embedding="word_sinusoidalpos", tgt_embedding="word_sinusoidalpos",
                                          layernorm_positioning="pre"),
}


def perturb(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Large random weights: a freshly initialised tied LM repeats its prompt, which would hide bugs."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            scale = 0.3 if parameter.dim() >= 2 else 0.1
            parameter.add_(torch.randn(parameter.shape, generator=generator) * scale)
    return model.eval()


def tiny_model(options: dict, vocab_size: int = VOCAB, seed: int = 0, tgt_vocab_size=None):
    torch.manual_seed(seed)
    return perturb(build_model(model_args(options), vocab_size, tgt_vocab_size), seed)


def max_diff(a, b):
    assert len(a) == len(b)
    return max((x - y).abs().max().item() for x, y in zip(a, b))


# ---------------------------------------------------------------------------------------------- sampling

def test_filter_logits_top_k_and_top_p():
    logits = torch.tensor([[1.0, 4.0, 3.0, 2.0, 0.0]])
    kept = filter_logits(logits, top_k=2) > -1e30
    assert kept.tolist() == [[False, True, True, False, False]]
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    kept = filter_logits(probs.log(), top_p=0.7) > -1e30
    assert kept.tolist() == [[True, True, False, False]]  # 0.5 < 0.7, 0.5 + 0.3 reaches it
    kept = filter_logits(probs.log(), top_p=0.01) > -1e30
    assert kept.tolist() == [[True, False, False, False]]  # the best token always stays
    assert torch.equal(filter_logits(logits), logits)


def test_next_tokens_greedy_sampling_and_banned_padding():
    logits = torch.tensor([[9.0, 1.0, 5.0, 2.0], [0.0, 3.0, 1.0, 2.0]])
    assert next_tokens(logits, Sampling(greedy=True)).tolist() == [2, 1]  # id 0 (padding) is never chosen
    assert next_tokens(logits, Sampling(top_k=1)).tolist() == [2, 1]
    assert next_tokens(logits, Sampling(greedy=True), banned=()).tolist() == [0, 1]
    generator = torch.Generator().manual_seed(3)
    draws = torch.stack([next_tokens(logits, Sampling(top_k=2), generator) for _ in range(100)])
    assert set(draws[:, 0].tolist()) == {2, 3} and set(draws[:, 1].tolist()) == {1, 3}
    again = torch.Generator().manual_seed(3)
    assert torch.equal(draws, torch.stack([next_tokens(logits, Sampling(top_k=2), again) for _ in range(100)]))
    cold = torch.stack([next_tokens(logits, Sampling(top_k=0, temperature=1e-3), generator) for _ in range(50)])
    assert (cold == torch.tensor([2, 1])).all()


@pytest.mark.parametrize("kwargs", [dict(top_k=-1), dict(top_p=1.5), dict(temperature=0.0)])
def test_bad_sampling_options_are_user_errors(kwargs):
    with pytest.raises(UserInputError):
        Sampling(**kwargs)


def test_detokenize():
    assert detokenize(["今", "天", "hello", "##s", ",", "world", "[SEP]"]) == "今天hellos, world[SEP]"
    assert detokenize(["\u2581Hello", "\u2581wor", "ld"], sentencepiece=True) == "Hello world"
    assert detokenize(["a", "b"], "space") == "a b" and detokenize(["a", " ", "b"], "char") == "a b"


# --------------------------------------------------------------------------- language models and the cache

GREEDY = Sampling(greedy=True)
# Sampling from the full distribution visits varied tokens (greedy decoding of a random tiny model
# often repeats one token); cached and recomputed runs share the generator seed.
SAMPLED = Sampling(top_k=0, temperature=1.0)


def run_both(generate, sampling, *args, **kwargs):
    return [generate(*args, sampling, use_cache=cache, return_logits=True,
                     generator=torch.Generator().manual_seed(11), **kwargs) for cache in (True, False)]


def lm_forward_logits(model, sequence):
    sequence = torch.tensor([sequence])
    with torch.no_grad():
        return model.target.output_layer(model.encode(sequence, torch.ones_like(sequence)))[0]


@pytest.mark.parametrize("name", sorted(LM_VARIANTS))
@pytest.mark.parametrize("sampling", [GREEDY, SAMPLED], ids=["greedy", "sampled"])
def test_lm_cache_matches_full_recomputation(name, sampling):
    model = tiny_model(LM_VARIANTS[name])
    assert can_cache(model)
    prompt = [2, 17, 33, 40]
    cached, full = run_both(generate_lm, sampling, model, prompt, 28)
    assert cached.tokens == full.tokens and len(cached.tokens[0]) == 24
    assert max_diff(cached.logits, full.logits) < 1e-4
    if sampling is SAMPLED:
        assert len(set(cached.tokens[0])) > 5
    # Each step's cached logits are those of a plain forward over the final sequence.
    forward = lm_forward_logits(model, prompt + cached.tokens[0])
    assert (torch.stack(cached.logits)[:, 0] - forward[len(prompt) - 1:-1]).abs().max().item() < 1e-4


@pytest.mark.parametrize("options", [LSTM, GATEDCNN], ids=["lstm", "gatedcnn"])
def test_lm_without_cache_recomputes(options):
    model = tiny_model(options)
    assert not can_cache(model)
    result = generate_lm(model, [2, 9, 10], 12, SAMPLED, return_logits=True, generator=torch.Generator().manual_seed(1))
    forward = lm_forward_logits(model, [2, 9, 10] + result.tokens[0])
    assert (torch.stack(result.logits)[:, 0] - forward[2:-1]).abs().max().item() < 1e-4


def test_non_causal_transformer_recomputes():
    model = tiny_model(dict(GPT2, mask="fully_visible"))
    assert not can_cache(model)
    result = generate_lm(model, [2, 9, 10], 8, GREEDY, return_logits=True)
    for step, logits in enumerate(result.logits):  # step k sees exactly the sequence so far
        prefix = [2, 9, 10] + result.tokens[0][:step]
        assert (logits[0] - lm_forward_logits(model, prefix)[-1]).abs().max().item() < 1e-4


def test_prefix_lm_sees_prompt_as_segment_one_and_stops_at_end_token():
    model = tiny_model(dict(GPT2, embedding="word_pos_seg", mask="causal_with_prefix", target="prefixlm"))
    assert not can_cache(model)
    prompt = [2, 9, 10, 3]
    result = generate_lm(model, prompt, 14, SAMPLED, return_logits=True, generator=torch.Generator().manual_seed(2))
    sequence = torch.tensor([prompt + result.tokens[0]])
    seg = torch.tensor([[1] * len(prompt) + [2] * len(result.tokens[0])])
    with torch.no_grad():
        forward = model.target.output_layer(model.encode(sequence, seg))[0]
    assert (torch.stack(result.logits)[:, 0] - forward[len(prompt) - 1:-1]).abs().max().item() < 1e-4
    end = result.tokens[0][3]
    stopped = generate_lm(model, prompt, 14, SAMPLED, generator=torch.Generator().manual_seed(2), end_id=end)
    assert stopped.tokens[0] == result.tokens[0][:result.tokens[0].index(end)]


def test_lm_generation_needs_an_lm_target():
    with pytest.raises(UserInputError, match="--target lm"):
        generate_lm(tiny_model(dict(GPT2, target="mlm")), [2], 5, Sampling())


# ---------------------------------------------------------------------------------------------- seq2seq

def sources(batch=3, length=8, vocab=VOCAB):
    torch.manual_seed(5)
    src = torch.randint(5, vocab, (batch, length))
    seg = torch.ones_like(src)
    for row in range(1, batch):
        seg[row, length - 2 * row:] = 0
    return src.masked_fill(seg == 0, 0), seg


@pytest.mark.parametrize("name", sorted(SEQ2SEQ_VARIANTS))
@pytest.mark.parametrize("sampling", [GREEDY, SAMPLED], ids=["greedy", "sampled"])
def test_seq2seq_decoder_cache_matches_full_recomputation(name, sampling):
    model = tiny_model(SEQ2SEQ_VARIANTS[name])
    src, seg = sources()
    # Sampled runs never choose the end token, so that every row decodes 16 steps.
    banned = (0, 3) if sampling is SAMPLED else (0,)
    cached, full = run_both(generate_seq2seq, sampling, model, src, seg, 2, 3, 16, banned=banned)
    assert cached.tokens == full.tokens
    assert max_diff(cached.logits, full.logits) < 1e-4
    if sampling is SAMPLED:
        assert all(len(set(row)) > 5 for row in cached.tokens)
        return
    # Padding in the batch changes nothing: each source alone gives the same tokens.
    for row in range(src.size(0)):
        length = int(seg[row].sum())
        alone = generate_seq2seq(model, src[row:row + 1, :length], seg[row:row + 1, :length], 2, 3, 16, GREEDY)
        assert alone.tokens[0] == cached.tokens[row]


def test_seq2seq_stops_at_end_token_and_separate_target_vocabulary():
    model = tiny_model(SEQ2SEQ, tgt_vocab_size=40)
    src, seg = sources()
    probe = generate_seq2seq(model, src, seg, 2, 3, 10, Sampling(greedy=True), return_logits=True)
    assert probe.logits[0].shape == (3, 40)
    end = probe.tokens[0][4]  # make the fifth token of row 0 the end token
    result = generate_seq2seq(model, src, seg, 2, end, 10, Sampling(greedy=True))
    assert result.tokens[0] == probe.tokens[0][:probe.tokens[0].index(end)]
    assert all(len(row) <= 10 and end not in row for row in result.tokens)


# ------------------------------------------------------------------------------- parity with transformers

def test_gpt2_greedy_generation_matches_transformers():
    transformers = pytest.importorskip("transformers")
    from uer.conversion.core import hf_to_uer
    from uer.conversion.hf_config import uer_options
    from uer.conversion.tables import GPT2 as GPT2_TABLE
    from uer.model_loader import load_state_dict_into

    config = transformers.GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                     bos_token_id=None, eos_token_id=None, pad_token_id=0)
    torch.manual_seed(0)
    hf = perturb(transformers.GPT2LMHeadModel(config))
    state, _ = hf_to_uer(hf.state_dict(), GPT2_TABLE, target="lm")
    ours = build_model(model_args(uer_options(GPT2_TABLE, hf.config.to_dict())), VOCAB).eval()
    load_state_dict_into(ours, state)
    prompt = [7, 21, 42]
    with torch.no_grad():
        expected = hf.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, 3, dtype=torch.long),
                               max_new_tokens=30, do_sample=False)[0, 3:].tolist()
    result = generate_lm(ours, prompt, 33, Sampling(greedy=True), banned=())
    assert result.tokens[0] == expected


def test_t5_greedy_generation_matches_transformers():
    transformers = pytest.importorskip("transformers")
    from uer.conversion.core import hf_to_uer
    from uer.conversion.hf_config import uer_options
    from uer.conversion.tables import T5 as T5_TABLE
    from uer.model_loader import load_state_dict_into

    config = transformers.T5Config(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                                   decoder_start_token_id=2, eos_token_id=3, pad_token_id=0)
    torch.manual_seed(0)
    hf = perturb(transformers.T5ForConditionalGeneration(config))
    state, _ = hf_to_uer(hf.state_dict(), T5_TABLE)
    ours = build_model(model_args(uer_options(T5_TABLE, hf.config.to_dict())), VOCAB).eval()
    load_state_dict_into(ours, state)
    src, seg = sources()
    with torch.no_grad():
        expected = hf.generate(src, attention_mask=seg, max_new_tokens=20, do_sample=False)[:, 1:].tolist()
    result = generate_seq2seq(ours, src, seg, 2, 3, 20, Sampling(greedy=True), banned=())
    for ours_row, hf_row in zip(result.tokens, expected):
        hf_row = hf_row[:hf_row.index(3)] if 3 in hf_row else hf_row
        assert ours_row == hf_row
