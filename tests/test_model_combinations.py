"""Every (embedding, encoder, target) combination that makes sense builds, runs forward and
backward, and gives a finite loss; every registered name is covered."""
import itertools

import pytest
import torch

from tests.helpers import VOCAB, batch_for, tiny_args
from uer.embeddings import EMBEDDINGS
from uer.encoders import ENCODERS
from uer.layers.masks import MASK_CHOICES
from uer.model_builder import build_model
from uer.targets import TARGETS

# Targets that need the model not to see the future: they run with causal masks or causal encoders.
CAUSAL_TARGETS = {"lm"}
ENCODER_ONLY_TARGETS = [t for t in TARGETS.names() if t not in ("seq2seq", "t5")]


def combos():
    for embedding, encoder, target in itertools.product(EMBEDDINGS.names(), ENCODERS.names(), ENCODER_ONLY_TARGETS):
        if target == "bilm" and not encoder.startswith("bi"):
            continue  # the ELMo target reads separate forward/backward halves
        if target == "prefixlm" and encoder != "transformer":
            continue  # needs the causal_with_prefix mask
        yield embedding, encoder, target
    for embedding, target in itertools.product(EMBEDDINGS.names(), ("seq2seq", "t5")):
        yield embedding, "transformer", target


def options_for(embedding, encoder, target):
    options = dict(embedding=embedding, encoder=encoder, target=target, tgt_embedding=embedding)
    if target in CAUSAL_TARGETS and encoder == "transformer":
        options.update(mask="causal")
    if target == "prefixlm":
        options.update(mask="causal_with_prefix")
    return options


@pytest.mark.parametrize("embedding,encoder,target", list(combos()))
def test_combination_trains(embedding, encoder, target):
    torch.manual_seed(0)
    model = build_model(tiny_args(**options_for(embedding, encoder, target)), VOCAB)
    out = model(batch_for(target))
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_every_registered_name_is_covered():
    seen = set(itertools.chain.from_iterable(combos()))
    assert set(EMBEDDINGS.names()) | set(ENCODERS.names()) | set(TARGETS.names()) <= seen


VARIANTS = [
    dict(layernorm_positioning="pre"),
    dict(feed_forward="gated", hidden_act="gelu_fast"),
    dict(relative_position_embedding=True, layernorm_positioning="pre", layernorm="t5",
         remove_transformer_bias=True, remove_attention_scale=True),
    dict(relative_position_embedding=True),
    dict(factorized_embedding_parameterization=True, parameter_sharing=True, emb_size=16),
    dict(remove_embedding_layernorm=True),
    dict(remove_embedding_layernorm_bias=True),
    dict(attention_head_size=4),
    dict(hidden_act="silu"), dict(hidden_act="relu"), dict(hidden_act="linear"),
    dict(tie_weights=True), dict(bidirectional=True, encoder="lstm", embedding="word"),
] + [dict(mask=mask) for mask in MASK_CHOICES]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(f"{k}={v[k]}" for k in v))
def test_transformer_variants_train_with_mlm(variant):
    torch.manual_seed(0)
    options = dict(dict(target="mlm"), **variant)
    model = build_model(tiny_args(**options), VOCAB)
    out = model(batch_for("mlm"))
    assert torch.isfinite(out["loss"])
    out["loss"].backward()


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v.get("encoder", "transformer") == "transformer"],
                         ids=lambda v: ",".join(f"{k}={v[k]}" for k in v))
def test_forward_at_is_forward_at_those_positions(variant):
    """The transformer's forward_at (last layer at the given positions only, for topn_words_dep)
    gives exactly the full forward's outputs there, padding and every mask included."""
    torch.manual_seed(0)
    model = build_model(tiny_args(**dict(dict(target="mlm"), **variant)), VOCAB).eval()
    batch = batch_for("mlm")
    with torch.no_grad():
        emb = model.embedding(batch["src"], batch["seg"])
        full = model.encoder(emb, batch["seg"])
        picked = model.encoder.forward_at(emb, batch["seg"], [1, 5])
    assert picked.shape == (3, 2, full.size(-1))
    torch.testing.assert_close(picked, full[:, [1, 5]], rtol=1e-5, atol=1e-5)


def test_relative_position_bias_is_used_with_pre_ln():
    """The original silently dropped the bias in pre-LN layers: its table got no gradient."""
    model = build_model(tiny_args(relative_position_embedding=True, layernorm_positioning="pre", target="mlm"), VOCAB)
    model(batch_for("mlm"))["loss"].backward()
    assert model.encoder.relative_pos_emb.relative_attention_bias.weight.grad.abs().sum() > 0


def test_t5_shares_and_ties_embeddings():
    args = tiny_args(target="t5", embedding="word", tgt_embedding="word", share_embedding=True, tie_weights=True)
    model = build_model(args, VOCAB)
    word = model.embedding.word_embedding.weight
    assert model.target.embedding.word_embedding.weight is word
    assert model.target.output_layer.weight is word


def test_bilm_does_not_mutate_args():
    args = tiny_args(encoder="bilstm", embedding="word", target="bilm")
    build_model(args, VOCAB)
    assert args.hidden_size == 32
