"""The training-only Functions of uer/layers/efficient.py give the plain PyTorch results and gradients."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import uer.layers.multi_headed_attn as multi_headed_attn
from tests.helpers import VOCAB, batch_for, tiny_args
from uer.layers import efficient
from uer.layers.efficient import ACTIVATION_GRADS, Dropout, dropout_attention, linear_cross_entropy
from uer.layers.masks import combine, key_padding_mask
from uer.layers.position_ffn import GatedFeedForward, PositionwiseFeedForward
from uer.layers.relative_position_embedding import RelativePositionEmbedding
from uer.model_builder import build_model

F64 = torch.float64


def assert_close(actual, expected, tol=1e-10):
    assert actual is not None and expected is not None
    torch.testing.assert_close(actual, expected, rtol=tol, atol=tol)


def grads(output, tensors):
    return torch.autograd.grad(output, tensors, allow_unused=True)


def saved_shapes(fn):
    """Shapes of the tensors autograd keeps for backward while ``fn()`` runs."""
    shapes = []

    def pack(t):
        shapes.append(tuple(t.shape))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, shapes


# ----------------------------------------------------------------------------- linear + cross-entropy

def _head(bias: bool, rows: int = 10, width: int = 8, vocab: int = 50):
    torch.manual_seed(0)
    linear = nn.Linear(width, vocab, bias=bias).to(F64)
    hidden = torch.randn(rows, width, dtype=F64, requires_grad=True)
    labels = torch.randint(0, vocab, (rows,))
    labels[:4] = linear(hidden).argmax(-1)[:4].detach()  # some hits, so "correct" is not trivially 0
    return linear, hidden, labels


@pytest.mark.parametrize("bias", [True, False])
def test_linear_cross_entropy_matches_plain(bias, monkeypatch):
    monkeypatch.setattr(efficient, "_CHUNK_ELEMENTS", 3 * 50)  # chunks of 3 rows, the last one ragged
    linear, hidden, labels = _head(bias)
    tensors = [hidden, *linear.parameters()]
    loss, correct = linear_cross_entropy(hidden, linear, labels)
    logits = linear(hidden)
    expected = F.cross_entropy(logits, labels)
    assert_close(loss, expected)
    assert int(correct) == int((logits.argmax(-1) == labels).sum()) >= 4
    assert not correct.requires_grad
    # The upstream gradient scales what forward precomputed.
    for ours, ref in zip(grads(3.0 * loss, tensors), grads(3.0 * expected, tensors)):
        assert_close(ours, ref)


def test_linear_cross_entropy_frozen_inputs():
    linear, hidden, labels = _head(True)
    frozen = hidden.detach()
    loss, _ = linear_cross_entropy(frozen, linear, labels)
    expected = F.cross_entropy(linear(frozen), labels)
    for ours, ref in zip(grads(loss, list(linear.parameters())), grads(expected, list(linear.parameters()))):
        assert_close(ours, ref)
    linear.requires_grad_(False)
    loss, _ = linear_cross_entropy(hidden, linear, labels)
    assert_close(grads(loss, [hidden])[0], grads(F.cross_entropy(linear(hidden), labels), [hidden])[0])


def test_linear_cross_entropy_tied_weight():
    """The projection shares the embedding matrix: both uses add into its gradient."""
    linear, hidden, labels = _head(True)
    embedding = nn.Embedding(50, 8).to(F64)
    linear.weight = embedding.weight
    ids = torch.tensor([[1, 2, 3], [4, 4, 0]])

    def total(fused: bool):
        head = linear_cross_entropy(hidden, linear, labels)[0] if fused else F.cross_entropy(linear(hidden), labels)
        return head + embedding(ids).pow(2).sum()

    tensors = [hidden, embedding.weight, linear.bias]
    for ours, ref in zip(grads(total(True), tensors), grads(total(False), tensors)):
        assert_close(ours, ref)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_linear_cross_entropy_autocast(dtype):
    """Matmuls in the autocast dtype, loss in float32, float32 gradients for float32 parameters."""
    torch.manual_seed(0)
    linear = nn.Linear(16, 40)
    hidden = torch.randn(12, 16, requires_grad=True)
    labels = torch.randint(0, 40, (12,))
    tensors = [hidden, linear.weight, linear.bias]
    with torch.autocast("cpu", dtype=dtype):
        loss, correct = linear_cross_entropy(hidden, linear, labels)
        logits = linear(hidden)
        expected = F.cross_entropy(logits.float(), labels)
    assert loss.dtype == torch.float32
    assert int(correct) == int((logits.argmax(-1) == labels).sum())
    torch.testing.assert_close(loss, expected, rtol=1e-2, atol=1e-2)
    ours, ref = grads(loss, tensors), grads(expected, tensors)
    for a, b, t in zip(ours, ref, tensors):
        assert a.dtype == t.dtype
        torch.testing.assert_close(a, b.to(a.dtype), rtol=5e-2, atol=5e-3)


# ----------------------------------------------------------------------------- feed-forward

@pytest.mark.parametrize("act", sorted(ACTIVATION_GRADS))
@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_feed_forward_matches_plain(act, gated, bias):
    torch.manual_seed(0)
    module = (GatedFeedForward if gated else PositionwiseFeedForward)(8, 16, act, bias=bias).to(F64)
    x = torch.randn(2, 5, 8, dtype=F64, requires_grad=True)
    tensors = [x, *module.parameters()]
    module.train()
    y, shapes = saved_shapes(lambda: module(x))
    assert type(y.grad_fn).__name__.startswith(("_FeedForward", "_GatedFeedForward"))
    # Only the pre-activation (and, gated, linear_1's output) of width feedforward_size is kept.
    assert sum(shape == (2, 5, 16) for shape in shapes) == (2 if gated else 1)
    upstream = torch.randn_like(y)
    ours = torch.autograd.grad(y, tensors, upstream)
    module.eval()  # the plain path, with gradients
    expected = module(x)
    assert_close(y, expected)
    for a, b in zip(ours, torch.autograd.grad(expected, tensors, upstream)):
        assert_close(a, b)


# ----------------------------------------------------------------------------- attention with dropout

def reference_attention(q, k, v, attn_bias, is_causal, scale, dropout_p, keep):
    """The textbook formula with a given dropout mask."""
    scale = 1.0 / math.sqrt(q.size(-1)) if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale
    if attn_bias is not None:
        scores = scores + attn_bias
    elif is_causal:
        hidden = torch.ones(scores.shape[-2:], dtype=torch.bool).triu(1)
        scores = scores.masked_fill(hidden, float("-inf"))
    return (torch.softmax(scores, -1) * keep / (1.0 - dropout_p)) @ v


def same_mask_as(shape, seed, dropout_p):
    """The mask dropout_attention draws after torch.manual_seed(seed) (its only random draw)."""
    torch.manual_seed(seed)
    return efficient.keep_mask(shape, dropout_p, torch.device("cpu"))


ATTENTION_CASES = {
    "padding": dict(padding=True),
    "relative_position": dict(padding=True, position_bias=True, scale=1.0),
    "causal": dict(is_causal=True),
    "cross": dict(k_length=7, padding=True),
    "bias_2d": dict(bias_2d=True),
}


@pytest.mark.parametrize("case", sorted(ATTENTION_CASES))
def test_dropout_attention_matches_reference_with_same_mask(case):
    options = ATTENTION_CASES[case]
    torch.manual_seed(1)
    batch, heads, q_length, head_size = 3, 2, 5, 4
    k_length = options.get("k_length", q_length)
    q = torch.randn(batch, heads, q_length, head_size, dtype=F64, requires_grad=True)
    k = torch.randn(batch, heads, k_length, head_size, dtype=F64, requires_grad=True)
    v = torch.randn(batch, heads, k_length, head_size, dtype=F64, requires_grad=True)
    tensors = [q, k, v]
    attn_bias = None
    if options.get("padding"):
        seg = torch.ones(batch, k_length, dtype=torch.long)
        seg[1, -2:] = 0
        attn_bias = key_padding_mask(seg, F64)
    if options.get("position_bias"):
        relative = RelativePositionEmbedding(heads, bidirectional=True, num_buckets=8).to(F64)
        tensors.append(relative.relative_attention_bias.weight)
        attn_bias = combine(attn_bias, relative(q_length, k_length))  # [batch x heads x q x k], needs a grad
    if options.get("bias_2d"):  # [q x k], broadcast over batch and heads, with a gradient
        attn_bias = torch.randn(q_length, k_length, dtype=F64, requires_grad=True)
        tensors.append(attn_bias)
    is_causal, scale, dropout_p = options.get("is_causal", False), options.get("scale"), 0.3

    torch.manual_seed(7)
    out = dropout_attention(q, k, v, attn_bias, is_causal, scale, dropout_p)
    keep = same_mask_as((batch, heads, q_length, k_length), 7, dropout_p)
    assert not bool(keep.all())
    expected = reference_attention(q, k, v, attn_bias, is_causal, scale, dropout_p, keep)
    assert_close(out, expected)
    upstream = torch.randn_like(out)
    ours = torch.autograd.grad(out, tensors, upstream, retain_graph=True)  # the bias graph is shared
    for a, b in zip(ours, torch.autograd.grad(expected, tensors, upstream)):
        assert_close(a, b)
    if options.get("position_bias"):
        assert tensors[-1].shape == (8, heads)


def test_dropout_attention_keeps_a_bool_mask():
    q = torch.randn(2, 2, 6, 4, requires_grad=True)
    out, shapes = saved_shapes(lambda: dropout_attention(q, q, q, None, False, None, 0.1))
    assert shapes.count((2, 2, 6, 6)) == 2  # probabilities and mask only
    torch.manual_seed(0)
    first = dropout_attention(q, q, q, None, False, None, 0.5)
    torch.manual_seed(1)
    assert not torch.equal(first, dropout_attention(q, q, q, None, False, None, 0.5))
    with pytest.raises(ValueError):
        dropout_attention(q, q, q, None, False, None, 0.0)


def test_dropout_attention_half_inputs_compute_in_float32():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 2, 6, 4, requires_grad=True) for _ in range(3))
    torch.manual_seed(5)
    out = dropout_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), None, False, None, 0.2)
    assert out.dtype == torch.bfloat16
    keep = same_mask_as((2, 2, 6, 6), 5, 0.2)
    expected = reference_attention(q.bfloat16().float(), k.bfloat16().float(), v.bfloat16().float(),
                                   None, False, None, 0.2, keep)
    torch.testing.assert_close(out.float(), expected.bfloat16().float())
    grad_q, = torch.autograd.grad(out.float().sum(), [q])
    assert grad_q.dtype == torch.float32 and torch.isfinite(grad_q).all()


def test_attention_module_uses_sdpa_outside_training():
    attention = multi_headed_attn.MultiHeadedAttention(8, 2, 4, dropout=0.5)
    x = torch.randn(2, 5, 8)
    attention.eval()
    first, _ = attention(x, x)
    second, _ = attention(x, x)
    assert torch.equal(first, second)  # no dropout
    attention.train()
    with torch.no_grad():
        out, _ = attention(x, x)
    assert out.shape == first.shape


def test_t5_training_step_matches_reference_attention(monkeypatch):
    """A full T5-style model (relative position bias, no scaling, dropout 0.1): the module path
    gives the gradients of the textbook attention drawing the same masks."""
    options = dict(target="t5", relative_position_embedding=True, layernorm_positioning="pre", layernorm="t5",
                   remove_transformer_bias=True, remove_attention_scale=True, dropout=0.1)
    torch.manual_seed(0)
    model = build_model(tiny_args(**options), VOCAB).to(F64)
    model.train()
    batch = batch_for("t5")

    def run():
        torch.manual_seed(3)
        model.zero_grad()
        model(batch)["loss"].backward()
        return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}

    ours = run()

    def textbook(q, k, v, attn_bias, is_causal, scale, dropout_p):
        keep = efficient.keep_mask(q.shape[:-1] + (k.size(-2),), dropout_p, q.device)
        return reference_attention(q, k, v, attn_bias, is_causal, scale, dropout_p, keep)

    monkeypatch.setattr(multi_headed_attn, "dropout_attention", textbook)
    expected = run()
    assert ours.keys() == expected.keys()
    assert any("relative_attention_bias" in name for name in ours)
    for name in ours:
        assert_close(ours[name], expected[name], tol=1e-9)


# ----------------------------------------------------------------------------- dropout

def test_dropout_keeps_bool_mask_and_matches_its_output():
    layer = Dropout(0.5)
    assert isinstance(layer, nn.Dropout) and not layer.state_dict()
    x = torch.randn(50, 40, requires_grad=True)
    out, shapes = saved_shapes(lambda: layer(x))
    assert len(shapes) == 1
    (grad,) = torch.autograd.grad(out.sum(), [x])
    kept = out != 0
    assert 0.3 < kept.float().mean() < 0.7
    assert_close(out[kept], 2 * x[kept], tol=1e-6)
    assert torch.equal(grad, kept.float() * 2)
    layer.eval()
    assert layer(x) is x


# ----------------------------------------------------------------------------- whole models

MODELS = {
    "bert": dict(target="bert"),
    "mlm_tied": dict(target="mlm", tie_weights=True),
    "gpt2_bias": dict(target="lm", mask="causal", has_lmtarget_bias=True, layernorm_positioning="pre"),
    "lstm_lm": dict(target="lm", encoder="lstm"),
    "elmo": dict(target="bilm", encoder="bilstm"),
    "t5_gated": dict(target="t5", relative_position_embedding=True, layernorm_positioning="pre", layernorm="t5",
                     remove_transformer_bias=True, remove_attention_scale=True, feed_forward="gated",
                     hidden_act="gelu_fast", tie_weights=True, share_embedding=True),
    "albert_relu": dict(target="albert", factorized_embedding_parameterization=True, emb_size=16, hidden_act="relu"),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_training_paths_give_the_eval_paths_gradients(name):
    """Without dropout, train() (efficient Functions) and eval() (plain modules) compute the same
    loss, statistics and gradients."""
    options = MODELS[name]
    torch.manual_seed(0)
    model = build_model(tiny_args(dropout=0.0, **options), VOCAB).to(F64)
    batch = batch_for(options["target"])

    def run(train: bool):
        model.train(train)
        model.zero_grad()
        out = model(batch)
        out["loss"].backward()
        return out, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    (out, ours), (plain, expected) = run(True), run(False)
    # The plain path upcasts the logits to float32 for the loss; the fused one stays in float64.
    assert out["loss"].item() == pytest.approx(plain["loss"].item(), rel=1e-6)
    assert {k: int(v) for k, v in out.items() if k.startswith("correct")} == \
        {k: int(v) for k, v in plain.items() if k.startswith("correct")}
    assert ours.keys() == expected.keys()
    for key in ours:
        torch.testing.assert_close(ours[key], expected[key], rtol=1e-5, atol=1e-7)
