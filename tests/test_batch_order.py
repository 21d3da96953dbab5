"""Training batch orders: random batches carry the data's label mix whatever the lengths, their
length-sorted micro-batches pad less and give the same update, and a collapse to one class is
reported."""
import logging
import random
from argparse import Namespace

import numpy as np
import pytest
import torch

from tests.finetune_fixtures import LETTERS, SPECIALS, TINY
from uer.data.batch_order import random_batches, split_by_length, training_batches
from uer.finetune import TaskDataset
from uer.finetune.classification import warn_if_collapsed
from uer.finetune.trainer import backward_batch
from uer.model_builder import model_args
from uer.models.classifier import Classifier
from uer.models.tagger import Tagger
from uer.training.runtime import DistContext

VOCAB_SIZE = len(SPECIALS) + len(LETTERS)


def length_labelled(n: int = 4000, seed: int = 0):
    """Lengths 1..128 where the label is decided by length: short texts are 0, long ones 1."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 129, size=n)
    return lengths, (lengths > 64).astype(np.int64)


def full_batch_label_shares(batches, labels, batch_size):
    return np.array([labels[np.concatenate(b)].mean() for b in batches if sum(len(p) for p in b) == batch_size])


def test_default_order_gives_every_batch_the_datasets_label_mix():
    lengths, labels = length_labelled()
    batch_size = 32
    shares = full_batch_label_shares(training_batches(lengths, batch_size, random.Random(1), micro_batches=4),
                                     labels, batch_size)
    # A random sample of 32 from a 50/50 set: the share of 1s has sd 0.088; 8 sd is never reached.
    assert abs(shares.mean() - labels.mean()) < 0.02
    assert shares.std() < 0.12 and np.all(np.abs(shares - labels.mean()) < 0.35)
    # The bucketed order is what this guards against: its batches are nearly all one label.
    bucketed = full_batch_label_shares(training_batches(lengths, batch_size, random.Random(1), "bucketed"),
                                       labels, batch_size)
    assert np.mean((bucketed < 0.1) | (bucketed > 0.9)) > 0.9


def test_random_batches_cover_every_example_once_and_change_every_seed():
    batches = training_batches(np.arange(1, 101), 8, random.Random(3), micro_batches=3)
    flat = np.concatenate([piece for batch in batches for piece in batch])
    assert sorted(flat.tolist()) == list(range(100))
    assert len(batches) == 13 and all(1 <= len(batch) <= 3 for batch in batches)
    other = training_batches(np.arange(1, 101), 8, random.Random(4), micro_batches=3)
    assert [np.sort(np.concatenate(b)).tolist() for b in other] != [np.sort(np.concatenate(b)).tolist() for b in batches]
    with pytest.raises(ValueError, match="unknown batch order"):
        training_batches(np.arange(10), 2, random.Random(0), "sorted")


def padded_slots(pieces, lengths):
    return sum(len(p) * lengths[p].max() for p in pieces)


def test_length_split_is_the_cheapest_cut_and_pads_less():
    rng = np.random.default_rng(0)
    lengths = np.minimum(rng.geometric(1 / 35, size=3200), 128)  # long-tailed, like review lengths
    batches = random_batches(len(lengths), 32, random.Random(0))
    whole = sum(padded_slots([b], lengths) for b in batches)
    split = [split_by_length(b, lengths, 4, overhead=0) for b in batches]
    assert sum(padded_slots(p, lengths) for p in split) < 0.5 * whole
    for batch, pieces in zip(batches, split):
        assert sorted(np.concatenate(pieces).tolist()) == sorted(batch.tolist()) and len(pieces) <= 4
    # Brute force over every cut of a small batch into at most 3 pieces.
    batch = np.arange(9)
    small = np.array([3, 40, 5, 5, 90, 12, 7, 60, 2])
    order = np.sort(small)
    best = min(padded_slots([np.arange(0, i), np.arange(i, j), np.arange(j, 9)], order) if 0 < i < j < 9 else 10 ** 9
               for i in range(9) for j in range(9))
    best = min(best, 9 * order.max(), *(padded_slots([np.arange(0, i), np.arange(i, 9)], order) for i in range(1, 9)))
    assert padded_slots(split_by_length(batch, small, 3, overhead=0), small) == best
    # Each piece costs an overhead: a batch of equal lengths stays whole.
    assert len(split_by_length(np.arange(32), np.full(32, 10), 4)) == 1


def gradients(model, data, pieces, weight_by_share=True):
    model.zero_grad(set_to_none=True)
    args = Namespace(fp16=False, bf16=False)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    loss, examples = backward_batch(model, data, pieces, args, DistContext(), scaler)
    return loss.item(), examples, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def synthetic_sequences(n, seed, tags=False):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 30, size=n)
    src = [rng.integers(len(SPECIALS), VOCAB_SIZE, size=k) for k in lengths]
    sequences = {"src": src, "seg": [np.ones(k, dtype=np.int8) for k in lengths]}
    if tags:
        sequences["tgt"] = [rng.integers(0, 3, size=k) for k in lengths]
        return TaskDataset(sequences)
    return TaskDataset(sequences, {"tgt": rng.integers(0, 2, size=n)})


@pytest.mark.parametrize("head", ["classifier", "tagger"])
def test_micro_batches_give_the_update_of_the_whole_batch(head):
    torch.manual_seed(0)
    args = model_args({**TINY, "dropout": 0.0})
    if head == "classifier":
        data = synthetic_sequences(24, 1)
        model = Classifier.from_args(args, VOCAB_SIZE, 2)
    else:
        data = synthetic_sequences(24, 2, tags=True)
        data.loss_tokens = "seg"  # as read_tagging sets it: the tagger averages over real tokens
        model = Tagger.from_args(args, VOCAB_SIZE, 3)
    batch = np.arange(24)
    pieces = split_by_length(batch, data.lengths, 4, overhead=0)
    assert len(pieces) > 1
    whole_loss, whole_n, whole = gradients(model, data, [batch])
    split_loss, split_n, split = gradients(model, data, pieces)
    assert whole_n == split_n == 24
    assert split_loss == pytest.approx(whole_loss, abs=1e-5)
    for name, grad in whole.items():
        torch.testing.assert_close(split[name], grad, atol=1e-6, rtol=1e-5)


def test_a_collapse_to_one_class_is_reported(caplog):
    gold = np.array([0, 1, 1, 0, 1])
    with caplog.at_level(logging.WARNING):
        assert warn_if_collapsed(np.ones(5, dtype=np.int64), gold, 2)
    assert "every one of the 5 predictions is label 1 (gold labels 0: 40.0%, 1: 60.0%)" in caplog.text
    assert not warn_if_collapsed(np.array([1, 0, 1, 1, 1]), gold, 2)
    assert not warn_if_collapsed(np.ones(5, dtype=np.int64), np.ones(5, dtype=np.int64), 2)


@pytest.mark.parametrize("target", ["bert", "lm", "bilm", "cls", "t5"])
def test_pretraining_micro_batches_give_the_update_of_the_whole_batch(tmp_path, target):
    from tests.trainer_fixtures import VOCAB_SIZE as PRETRAIN_VOCAB, SyntheticLoader, parse, trimmed_rows
    from uer.model_builder import build_model
    from uer.targets.common import merge_micro_batch_stats, micro_batch_weights, weighted_loss

    args = parse(str(tmp_path), target)
    args.dropout = 0.0
    torch.manual_seed(0)
    model = build_model(args, PRETRAIN_VOCAB)
    batch = SyntheticLoader(target, batch_size=9, seq_length=20, seed=3).batch()
    order = torch.argsort((batch["seg"] > 0).sum(1), stable=True)
    pieces = [trimmed_rows(batch, rows) for rows in (order[:3], order[3:7], order[7:])]
    assert pieces[0]["src"].shape[1] < batch["src"].shape[1]

    model.zero_grad(set_to_none=True)
    whole = model(batch)
    whole["loss"].backward()
    reference = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    model.zero_grad(set_to_none=True)
    weights = micro_batch_weights(model.target.loss_labels, pieces)
    outs = []
    for piece, weight in zip(pieces, weights):
        out = model(piece)
        weighted_loss(out, weight).backward()
        outs.append(out)
    merged = merge_micro_batch_stats(outs, weights)
    assert merged["loss"].item() == pytest.approx(whole["loss"].item(), abs=1e-5)
    for key in whole:
        if key.startswith(("correct_", "denominator_")):
            assert int(merged[key]) == int(whole[key])
    for name, grad in reference.items():
        torch.testing.assert_close(model.get_parameter(name).grad, grad, atol=1e-6, rtol=1e-5)


def test_bucketed_order_sorts_chunks_and_cuts_only_batches_of_mixed_lengths():
    lengths = np.random.default_rng(5).integers(1, 129, size=4000)
    whole = training_batches(lengths, 32, random.Random(0), "bucketed", micro_batches=4)
    assert np.mean([len(batch) == 1 for batch in whole]) > 0.9  # one length per batch: nothing to cut
    small = training_batches(lengths, 32, random.Random(0), "bucketed", micro_batches=4, chunk_batches=2)
    flat = np.concatenate([piece for batch in small for piece in batch])
    assert sorted(flat.tolist()) == list(range(4000)) and max(len(batch) for batch in small) > 1
    spread = np.mean([np.ptp(lengths[np.concatenate(batch)]) for batch in small])
    assert 40 < spread < 90  # half of a random 64's range (~125), not one length, not a random batch
