"""MLM masking: how many tokens, which ones, 80/10/10, spans and whole words."""
import numpy as np
import pytest

from uer.data.masking import Masker, MaskingConfig

PAD, CLS, SEP, MASK = 0, 2, 3, 4
SPECIALS = (PAD, CLS, SEP, MASK)
VOCAB = 100


def batch(rows: int, width: int, rng: np.random.Generator):
    """Rows ``[CLS] a [SEP] b [SEP]`` of random lengths, padded with 0."""
    ids = np.zeros((rows, width), dtype=np.int64)
    lengths = rng.integers(6, width + 1, size=rows)
    for r, n in enumerate(lengths):
        ids[r, :n] = rng.integers(5, VOCAB, size=n)
        ids[r, 0], ids[r, n // 2], ids[r, n - 1] = CLS, SEP, SEP
    return ids, lengths


def masker(**options) -> Masker:
    return Masker(MaskingConfig(VOCAB, MASK, SPECIALS, **options))


@pytest.mark.parametrize("options", [{}, {"span_masking": True}, {"span_masking": True, "span_max_length": 3}])
def test_masks_about_15_percent_of_real_tokens_and_never_specials(options):
    rng = np.random.default_rng(0)
    ids, lengths = batch(400, 64, rng)
    masked, labels = masker(**options)(ids, lengths, rng)
    chosen = labels > 0
    assert (labels[chosen] == ids[chosen]).all()
    assert not np.isin(ids[chosen], SPECIALS).any()
    assert (masked[~chosen] == ids[~chosen]).all()  # untouched elsewhere (padding included)
    budget = np.maximum(1, np.floor(lengths * 0.15 + 0.5))
    counts = chosen.sum(1)
    assert (counts >= 1).all()
    if not options:
        assert (counts == budget).all()
    else:  # spans are taken while they fit the budget
        assert (counts <= np.maximum(budget, options.get("span_max_length", 10))).all()
        assert counts.sum() > 0.8 * budget.sum()


def test_80_10_10():
    rng = np.random.default_rng(1)
    ids, lengths = batch(3000, 64, rng)
    masked, labels = masker()(ids, lengths, rng)
    chosen = labels > 0
    as_mask = (masked[chosen] == MASK).mean()
    kept = (masked[chosen] == ids[chosen]).mean()
    assert abs(as_mask - 0.8) < 0.02 and abs(kept - 0.1 - 0.1 / VOCAB) < 0.02
    replaced = masked[chosen & (masked != MASK) & (masked != ids)]
    assert replaced.size and not np.isin(replaced, SPECIALS).any() and replaced.min() >= 1


def test_span_masking_makes_contiguous_spans_that_stop_at_specials():
    rng = np.random.default_rng(2)
    ids, lengths = batch(300, 128, rng)
    _, labels = masker(span_masking=True, span_geo_prob=0.2)(ids, lengths, rng)
    runs = []
    for row in labels > 0:
        edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(int), [0]])))
        runs += (edges[1::2] - edges[::2]).tolist()
    assert max(runs) > 1 and np.mean(runs) > 1.5  # token masking would give mostly isolated tokens


def test_whole_word_masking_masks_every_token_of_a_word():
    rng = np.random.default_rng(3)
    ids, lengths = batch(200, 40, rng)
    starts = (rng.random(ids.shape) < 0.4).astype(np.int64)  # words of ~2.5 tokens
    starts[:, 0] = 1
    _, labels = masker(whole_word_masking=True)(ids, lengths, rng, starts)
    chosen = labels > 0
    for r in range(ids.shape[0]):
        special = np.isin(ids[r], SPECIALS) | (np.arange(40) >= lengths[r])
        word = np.cumsum(starts[r] | special)  # word id of each position (specials split words)
        for w in np.unique(word[chosen[r]]):
            members = (word == w) & ~special
            assert chosen[r][members].all()


def test_rows_without_candidates_get_no_prediction():
    ids = np.array([[CLS, SEP, 0, 0], [CLS, 7, 8, SEP]])
    _, labels = masker()(ids, np.array([2, 4]), np.random.default_rng(0))
    assert labels[0].sum() == 0 and (labels[1] > 0).sum() == 1
