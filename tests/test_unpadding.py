"""Training without the padded slots (uer/layers/token_layout.py) and the in-place word-embedding
gradient (uer/layers/efficient.py embedding_into_grad) give the padded computation's losses and
gradients; evaluation keeps the padded layout."""
import pytest
import torch
import torch.nn.functional as F

from tests.helpers import VOCAB, tiny_args
from uer.embeddings.word_embedding import set_grads_in_place
from uer.encoders.transformer_encoder import TransformerEncoder
from uer.layers.efficient import embedding_into_grad
from uer.layers.token_layout import UNPAD_BELOW_REAL_FRACTION, TokenLayout
from uer.model_builder import build_model
from uer.models.classifier import Classifier
from uer.models.tagger import Tagger
from uer.training.runtime import DistContext, single_process_weights

LENGTHS = [10, 3, 6, 1, 8]  # 28 real tokens in 50 slots: well below UNPAD_BELOW_REAL_FRACTION


def padded_batch(target: str, lengths=LENGTHS, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    rows, width = len(lengths), max(lengths)
    seg = torch.zeros(rows, width, dtype=torch.long)
    for i, n in enumerate(lengths):
        seg[i, :n] = 1
        seg[i, n // 2:n] = 2 if n > 1 else 1
    src = torch.randint(5, VOCAB, (rows, width), generator=g) * (seg > 0)
    tokens = torch.randint(5, VOCAB, (rows, width), generator=g)
    batch = {"src": src, "seg": seg}
    if target in ("mlm", "bert", "albert"):
        chosen = (torch.rand(rows, width, generator=g) < 0.4) & (seg > 0)
        chosen[:, 0] = True
        batch["tgt_mlm"] = torch.where(chosen, tokens, 0)
        batch["is_next"] = torch.randint(0, 2, (rows,), generator=g)
    elif target == "t5":
        tgt = torch.randint(5, VOCAB, (rows, 5), generator=g)
        tgt[1, 3:] = 0
        batch["tgt_in"], batch["tgt_out"], batch["tgt_seg"] = tgt, torch.roll(tgt, -1, 1) * (tgt > 0), (tgt > 0).long()
    elif target == "classify":
        batch["tgt"] = torch.randint(0, 3, (rows,), generator=g)
    elif target == "tag":
        batch["tgt"] = torch.randint(1, 4, (rows, width), generator=g) * (seg > 0)
    return batch


def loss_and_grads(model, batch, unpad: bool, monkeypatch):
    monkeypatch.setattr(TransformerEncoder, "unpad_tokens", unpad)
    calls = []
    original = TokenLayout.unpad
    monkeypatch.setattr(TokenLayout, "unpad", lambda self, x: calls.append(1) or original(self, x))
    model.zero_grad(set_to_none=True)
    loss = model(batch)["loss"]
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads, bool(calls)


def assert_same_training(model, batch, monkeypatch, tol=1e-6):
    model.train()
    loss_pad, grads_pad, used_pad = loss_and_grads(model, batch, False, monkeypatch)
    loss_unpad, grads_unpad, used_unpad = loss_and_grads(model, batch, True, monkeypatch)
    assert not used_pad and used_unpad  # the second run really took the unpadded path
    torch.testing.assert_close(loss_unpad, loss_pad, rtol=tol, atol=tol)
    assert grads_unpad.keys() == grads_pad.keys()
    for name in grads_pad:
        torch.testing.assert_close(grads_unpad[name], grads_pad[name], rtol=tol, atol=tol, msg=name)


VARIANTS = {
    "bert": dict(target="bert"),
    "pre_ln_gated": dict(target="mlm", layernorm_positioning="pre", feed_forward="gated", hidden_act="gelu_fast"),
    "albert": dict(target="albert", factorized_embedding_parameterization=True, parameter_sharing=True, emb_size=16),
    "relative_tied": dict(target="mlm", relative_position_embedding=True, tie_weights=True),
    "t5": dict(target="t5", embedding="word", tgt_embedding="word", relative_position_embedding=True,
               layernorm_positioning="pre", layernorm="t5", remove_transformer_bias=True,
               remove_attention_scale=True, share_embedding=True, tie_weights=True, decoder="transformer"),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_pretraining_loss_and_gradients_match_the_padded_layout(name, monkeypatch):
    torch.manual_seed(0)
    options = VARIANTS[name]
    model = build_model(tiny_args(dropout=0.0, **options), VOCAB)
    assert_same_training(model, padded_batch(options["target"]), monkeypatch)


@pytest.mark.parametrize("pooling", ["first", "last", "mean", "max"])
def test_classifier_matches_the_padded_layout(pooling, monkeypatch):
    torch.manual_seed(0)
    model = Classifier.from_args(tiny_args(dropout=0.0, pooling=pooling), VOCAB, 3)
    assert_same_training(model, padded_batch("classify"), monkeypatch)


def test_tagger_matches_the_padded_layout(monkeypatch):
    torch.manual_seed(0)
    model = Tagger.from_args(tiny_args(dropout=0.0), VOCAB, 4)
    assert_same_training(model, padded_batch("tag"), monkeypatch)


def test_padded_layout_kept_for_evaluation_causal_masks_and_full_batches(monkeypatch):
    monkeypatch.setattr(TransformerEncoder, "unpad_tokens", True)
    used = []
    monkeypatch.setattr(TokenLayout, "unpad", lambda self, x: used.append(1) or x)
    batch = padded_batch("classify")
    model = Classifier.from_args(tiny_args(dropout=0.0), VOCAB, 3)
    model.eval()
    model(batch)
    model.train()
    with torch.no_grad():
        model(batch)
    Classifier.from_args(tiny_args(dropout=0.0, mask="causal"), VOCAB, 3).train()(batch)["loss"].backward()
    model(padded_batch("classify", lengths=[6, 6, 6, 6, 5]))["loss"].backward()  # 29/30 real: not worth it
    assert not used


def test_layout_round_trip():
    real = torch.tensor([[True, True, False], [True, False, False]])
    layout = TokenLayout(real)
    x = torch.arange(18.0).view(2, 3, 3)
    tokens = layout.unpad(x)
    assert layout.tokens == 3 and tokens.shape == (3, 3)
    torch.testing.assert_close(tokens, torch.stack([x[0, 0], x[0, 1], x[1, 0]]))
    torch.testing.assert_close(layout.pad(tokens), x * real.unsqueeze(-1))
    assert TokenLayout.worthwhile(torch.ones(2, 4, dtype=torch.long)) is None
    cutoff = int(UNPAD_BELOW_REAL_FRACTION * 10)
    assert TokenLayout.worthwhile(torch.tensor([[1] * cutoff + [0] * (10 - cutoff)])) is None
    assert TokenLayout.worthwhile(torch.tensor([[1] * (cutoff - 1) + [0] * (11 - cutoff)])) is not None


def test_embedding_into_grad_accumulates_like_autograd():
    torch.manual_seed(0)
    weight = torch.randn(20, 4, requires_grad=True)
    reference = weight.detach().clone().requires_grad_(True)
    for pieces in ([torch.tensor([[1, 2, 2], [0, 5, 1]])], [torch.tensor([[3, 3]]), torch.tensor([[19, 1, 7, 3]])]):
        for ids in pieces:  # micro-batches: each backward adds to the gradient
            upstream = torch.randn(*ids.shape, 4)
            (embedding_into_grad(ids, weight) * upstream).sum().backward()
            (F.embedding(ids, reference) * upstream).sum().backward()
        torch.testing.assert_close(weight.grad, reference.grad)
        weight.grad, reference.grad = None, None  # zero_grad(set_to_none=True) between steps


def test_in_place_word_embedding_gradient_with_tied_output_and_micro_batches():
    torch.manual_seed(0)
    model = build_model(tiny_args(dropout=0.0, target="mlm", tie_weights=True), VOCAB).train()
    pieces = [padded_batch("mlm", lengths=[4, 2], seed=1), padded_batch("mlm", lengths=[9, 7, 8], seed=2)]
    results = []
    for in_place in (False, True):
        set_grads_in_place(model, in_place)
        model.zero_grad(set_to_none=True)
        for piece in pieces:
            model(piece)["loss"].backward()
        results.append({name: p.grad.clone() for name, p in model.named_parameters()})
    assert model.embedding.grads_in_place
    for name in results[0]:
        torch.testing.assert_close(results[1][name], results[0][name], rtol=1e-6, atol=1e-7, msg=name)


def test_in_place_gradients_only_for_one_process_without_sharding():
    from argparse import Namespace
    one = DistContext(rank=0, local_rank=0, world_size=1, device=torch.device("cpu"))
    two = DistContext(rank=0, local_rank=0, world_size=2, device=torch.device("cpu"))
    assert single_process_weights(Namespace(), one)
    assert not single_process_weights(Namespace(), two)
    assert not single_process_weights(Namespace(parallel="fsdp"), one)
