"""The pre-training loader: rank shares, bucketing, padding, dynamic masking, resuming."""
import argparse
import random

import numpy as np
import pytest
import torch

from uer.data.format import DatasetFile
from uer.data.loader import build_pretrain_loader
from uer.utils.errors import UserInputError

from tests.test_data_helpers import documents_corpus, lines_corpus, make_vocab, run_preprocess, write


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """A static and a dynamic mlm dataset and a dynamic bert one, built once for the module."""
    tmp = tmp_path_factory.mktemp("loader")
    vocab = make_vocab(tmp)
    lines = write(tmp, "lines.txt", lines_corpus(random.Random(0), 300, low=2, high=60))
    docs = write(tmp, "docs.txt", documents_corpus(random.Random(1), 80))
    paths = {"vocab": vocab}
    for name, corpus, target, extra in [("static", lines, "mlm", ["--dup_factor", "2"]),
                                        ("dynamic", lines, "mlm", ["--dynamic_masking"]),
                                        ("bert", docs, "bert", ["--dynamic_masking"])]:
        paths[name] = str(tmp / f"{name}.pt")
        run_preprocess(corpus, vocab, paths[name], target, *extra)
    return paths


def take(loader, n):
    return [next(loader) for _ in range(n)]


def same(a, b):
    return all(a[i].keys() == b[i].keys() and all(torch.equal(a[i][k], b[i][k]) for k in a[i]) for i in range(len(a)))


@pytest.mark.parametrize("world_size", [1, 3])
def test_ranks_share_every_instance_once_per_epoch(datasets, world_size):
    n = len(DatasetFile(datasets["static"]))
    seen = []
    for rank in range(world_size):
        loader = build_pretrain_loader(datasets["static"], 16, rank, world_size, instances_buffer_size=50)
        for epoch in (0, 1):
            indices = np.concatenate(list(loader.plan(epoch)))
            assert sorted(indices.tolist()) == list(range(rank, n, world_size))
            if epoch == 0:
                first = indices
        assert not np.array_equal(first, indices)  # a new order every epoch
        seen += first.tolist()
    assert sorted(seen) == list(range(n))


def test_batches_are_length_bucketed_and_padded_to_their_longest(datasets):
    loader = build_pretrain_loader(datasets["static"], 8, instances_buffer_size=10000, bucket_batches=100,
                                   batch_order="bucketed")
    lengths = loader.dataset.lengths(np.arange(len(loader.dataset)))
    spreads = [np.ptp(lengths[b]) for b in loader.plan(0) if len(b) == 8]
    assert np.mean(spreads) < 0.5 * np.ptp(lengths)
    widths = set()
    for batch in take(loader, 20):
        real = (batch["seg"] > 0).sum(1)
        assert real.max() == batch["src"].shape[1]
        widths.add(batch["src"].shape[1])
    assert len(widths) > 3  # the width follows the batch, not a fixed seq_length


def test_random_order_serves_random_batches_in_length_sorted_micro_batches(datasets):
    loader = build_pretrain_loader(datasets["static"], 16, instances_buffer_size=10000, micro_batches=3)
    lengths = loader.dataset.lengths(np.arange(len(loader.dataset)))
    plan = list(loader.plan(0))
    spreads = [np.ptp(lengths[b]) for b in plan if len(b) == 16]
    assert np.mean(spreads) > 0.5 * np.ptp(lengths)  # random samples, not buckets
    assert sorted(np.concatenate(plan).tolist()) == list(range(len(loader.dataset)))
    served = take(loader, 10)
    assert any(isinstance(item, list) for item in served)
    for indices, item in zip(plan, served):
        pieces = item if isinstance(item, list) else [item]
        assert 1 <= len(pieces) <= 3 and sum(p["src"].shape[0] for p in pieces) == len(indices)
        widths = [p["src"].shape[1] for p in pieces]
        assert widths == sorted(widths)  # shortest first, each padded to its own longest
        for piece in pieces:
            assert (piece["seg"] > 0).sum(1).max() == piece["src"].shape[1]
    with pytest.raises(UserInputError, match="unknown batch order"):
        build_pretrain_loader(datasets["static"], 16, batch_order="sorted")
    for flag in ("micro_batches", "bucket_batches"):
        with pytest.raises(UserInputError, match=f"--{flag} must be at least 1, got 0"):
            build_pretrain_loader(datasets["static"], 16, **{flag: 0})


def test_static_masks_are_stored_and_dynamic_masks_change_every_epoch(datasets):
    static, dynamic = DatasetFile(datasets["static"]), DatasetFile(datasets["dynamic"])
    assert static.has("mlm") and not dynamic.has("mlm")
    assert dynamic.header["masking"]["mode"] == "dynamic" and len(static) == 2 * len(dynamic)
    mask_id = dynamic.header["special_ids"]["mask"]
    assert not (dynamic.ragged("src").data["data"] == mask_id).any()  # stored unmasked
    for path, changes in ((datasets["static"], False), (datasets["dynamic"], True)):
        loader = build_pretrain_loader(path, 1000, instances_buffer_size=1000, bucket_batches=1)
        epochs = []
        for _ in range(2):  # one batch = the whole dataset = one epoch
            batch = next(loader)
            assert (batch["tgt_mlm"] > 0).sum(1).min() >= 1
            # the original text of each instance (masked positions restored) -> its masks
            text = torch.where(batch["tgt_mlm"] > 0, batch["tgt_mlm"], batch["src"])
            masks = {}
            for row, mask in zip(text.tolist(), (batch["tgt_mlm"] > 0).tolist()):
                masks.setdefault(tuple(row), []).append(mask)
            epochs.append({key: sorted(value) for key, value in masks.items()})
        assert epochs[0].keys() == epochs[1].keys()
        differs = sum(epochs[0][key] != epochs[1][key] for key in epochs[0])
        assert (differs > len(epochs[0]) // 2) if changes else differs == 0


@pytest.mark.parametrize("name", ["dynamic", "bert"])
def test_resume_continues_exactly_without_replaying(datasets, name):
    reference = build_pretrain_loader(datasets[name], 8, seed=3, instances_buffer_size=40)
    steps = len(list(reference.plan(0))) + 5  # resume point beyond an epoch boundary
    take(reference, steps)
    state = reference.state_dict()
    expected = take(reference, 12)
    resumed = build_pretrain_loader(datasets[name], 8, seed=3, instances_buffer_size=40)
    resumed.load_state_dict(state)
    assert same(take(resumed, 12), expected)
    fresh = build_pretrain_loader(datasets[name], 8, seed=3, instances_buffer_size=40)
    assert not same(take(fresh, 12), expected)


def test_bert_batches(datasets):
    loader = build_pretrain_loader(datasets["bert"], 8)
    for batch in take(loader, 5):
        assert set(batch) == {"src", "seg", "tgt_mlm", "is_next"}
        assert batch["is_next"].shape == (batch["src"].shape[0],)
        assert ((batch["tgt_mlm"] > 0) <= (batch["seg"] > 0)).all()
        assert set(batch["seg"].unique().tolist()) <= {0, 1, 2}


def test_build_from_options_and_span_override(datasets):
    args = argparse.Namespace(dataset_path=datasets["dynamic"], batch_size=4, seed=5, vocab_path=datasets["vocab"],
                              instances_buffer_size=64, span_masking=True, span_geo_prob=0.3, span_max_length=4,
                              target="mlm")
    loader = build_pretrain_loader(args, rank=0, world_size=1)
    assert loader.batch_size == 4 and loader.buffer_size == 64 and loader.masker.config.span_masking
    assert next(loader)["src"].shape[0] == 4
    with pytest.raises(UserInputError):
        build_pretrain_loader(argparse.Namespace(dataset_path=datasets["dynamic"], batch_size=4, seed=5,
                                                 vocab_path=datasets["vocab"] + ".missing"))


@pytest.mark.parametrize("dynamic", [True, False])
def test_whole_word_masking_with_jieba(tmp_path, dynamic):
    pytest.importorskip("jieba")
    words = ["我们", "你好", "世界", "学生", "天地", "山水", "花草", "风雨", "他们", "可以", "出来", "时间"]
    rng = random.Random(0)
    text = "\n".join("".join(rng.choice(words) for _ in range(rng.randint(4, 12))) for _ in range(200)) + "\n"
    vocab = make_vocab(tmp_path, extra="".join(words))
    corpus = write(tmp_path, "corpus.txt", text)
    output = str(tmp_path / "wwm.pt")
    run_preprocess(corpus, vocab, output, "mlm", "--whole_word_masking", "--dup_factor", "1",
                   *(["--dynamic_masking"] if dynamic else []), seq_length=64)
    data = DatasetFile(output)
    if dynamic:  # the word boundaries are stored for the loader
        starts = data.ragged("src").data["word_start"]
        assert starts.size == data.ragged("src").data["data"].size and 0 < starts.mean() < 0.9
    else:
        assert data.has("mlm") and "word_start" not in data.ragged("src").data
    loader = build_pretrain_loader(output, 32)
    whole, partial = 0, 0
    for _ in range(5):
        batch = next(loader)
        chosen = batch["tgt_mlm"] > 0
        for row in range(chosen.shape[0]):
            real = (batch["seg"][row] > 0).tolist()
            picks = chosen[row].tolist()
            # consecutive masked tokens come in whole 2-character words
            runs, run = [], 0
            for p, r in zip(picks, real):
                if p:
                    run += 1
                elif run:
                    runs.append(run)
                    run = 0
            whole += sum(1 for r in runs if r % 2 == 0)
            partial += sum(1 for r in runs if r % 2 == 1)
    assert whole > 0 and partial <= whole * 0.1
