"""uer.finetune building blocks: task files, inputs, batching, prediction order, metrics, heads, CRF."""
import itertools
import random

import numpy as np
import pytest
import torch

from tests.finetune_fixtures import LETTERS, SPECIALS, TINY
from uer.finetune import (MixedBatches, PairEncoder, TaskDataset, confusion_matrix, entity_prf, extract_entities,
                          load_for_inference, load_pretrained, macro_f1, mean_reciprocal_rank, pad_stack, predict,
                          precision_recall_f1, read_label2id, read_tsv, truncate_pair)
from uer.finetune.batching import bucket_batches, shard, sorted_batches
from uer.model_builder import model_args
from uer.model_saver import save_model
from uer.models.classifier import Classifier
from uer.models.crf import CRF
from uer.models.multitask_classifier import MultitaskClassifier
from uer.models.tagger import Tagger
from uer.tokenizers import CharTokenizer
from uer.tokenizers.vocab import Vocab
from uer.training.runtime import DistContext
from uer.utils.errors import UserInputError

VOCAB = Vocab.from_tokens(SPECIALS + list(LETTERS))


def test_columns_are_found_by_header_name(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("extra\ttext_a\tlabel\nx\thello\t1\n", encoding="utf-8")
    columns, rows = read_tsv(str(path), ["label", "text_a"], optional=("text_b",))
    row = next(rows)
    assert columns == {"label": 2, "text_a": 1} and row["text_a"] == "hello" and row.get("text_b") is None
    assert row.line == 2


def test_label_map_ids_must_be_dense(tmp_path):
    path = tmp_path / "label2id.json"
    path.write_text('{"O": 0, "B-PER": 2}', encoding="utf-8")
    with pytest.raises(UserInputError, match="label ids must be 0..1"):
        read_label2id(str(path))


def test_pair_encoding_and_longest_first_truncation():
    encoder = PairEncoder(CharTokenizer(VOCAB), seq_length=10)
    ids, seg = encoder("abc")
    assert VOCAB.i2w[ids[0]] == "[CLS]" and VOCAB.i2w[ids[-1]] == "[SEP]" and list(seg) == [1] * 5
    ids, seg = encoder("abcdefgh", "xy")
    tokens = [VOCAB.i2w[i] for i in ids]
    assert tokens == ["[CLS]", "a", "b", "c", "d", "e", "[SEP]", "x", "y", "[SEP]"]
    assert list(seg) == [1] * 7 + [2] * 3
    assert truncate_pair(100, 100, 50) == (25, 25) and truncate_pair(10, 100, 50) == (10, 40)
    assert truncate_pair(3, 4, 50) == (3, 4)


def test_collate_pads_each_batch_to_its_longest_example():
    data = TaskDataset({"src": [np.arange(1, n + 1) for n in (3, 5, 2)], "seg": [np.ones(n) for n in (3, 5, 2)]},
                       {"tgt": [0, 1, 0]})
    batch = data.collate([0, 2])
    assert batch["src"].tolist() == [[1, 2, 3], [1, 2, 0]] and batch["tgt"].tolist() == [0, 0]
    assert batch["src"].dtype == torch.long
    assert pad_stack([np.ones((2, 3)), np.ones((2, 1))]).shape == (2, 2, 3)  # e.g. multiple-choice rows


def test_bucketed_batches_cover_every_example_once_and_group_similar_lengths():
    rng = random.Random(0)
    lengths = [rng.randint(1, 200) for _ in range(1000)]
    batches = bucket_batches(lengths, 8, random.Random(1), chunk_batches=10)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    spread = np.mean([np.ptp(np.asarray(lengths)[b]) for b in batches])
    assert spread < 40  # unsorted batches of 8 would spread about 155
    assert [b.tolist() for b in bucket_batches(lengths, 8, random.Random(2))] != [b.tolist() for b in batches]
    ordered = sorted_batches(lengths, 8)
    assert lengths[ordered[0][0]] == max(lengths)


def test_shards_have_equal_counts_without_dropping_batches():
    batches = [np.array([i]) for i in range(5)]
    shards = [shard(batches, rank, 2) for rank in range(2)]
    assert len(shards[0]) == len(shards[1]) == 3
    assert {int(b[0]) for s in shards for b in s} == set(range(5))


def test_mixed_batches_tag_each_batch_with_its_task():
    first = TaskDataset({"src": [np.array([5, 6])] * 4, "seg": [np.array([1, 1])] * 4}, {"tgt": [0] * 4}).with_constants(task=0)
    second = TaskDataset({"src": [np.array([7])] * 3, "seg": [np.array([1])] * 3}, {"tgt": [1] * 3}).with_constants(task=1)
    mixed = MixedBatches([first, second])
    items = [piece for batch in mixed.train_batches(2, random.Random(0)) for piece in batch]
    assert len(mixed) == 7 and sorted(t for t, _ in items) == [0, 0, 1, 1]
    assert all(mixed.collate(item)["task"] == item[0] for item in items)
    assert [mixed.loss_weight(item) for item in items if item[0] == 1] in ([2, 1], [1, 2])


def tiny(**options):
    return model_args({**TINY, **options})


def test_predict_restores_file_order():
    torch.manual_seed(0)
    model = Classifier.from_args(tiny(), len(VOCAB), 3)
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 30, size=23)
    src = [rng.integers(5, len(VOCAB), size=n) for n in lengths]
    data = TaskDataset({"src": src, "seg": [np.ones(n, dtype=np.int64) for n in lengths]})
    args = tiny(batch_size=4)
    logits = predict(model, data, 4, args, DistContext())["logits"]
    model.eval()
    with torch.no_grad():
        one_by_one = [model(data.collate([i]))["logits"][0].numpy() for i in range(len(data))]
    assert logits.shape == (23, 3) and np.allclose(logits, np.stack(one_by_one), atol=1e-5)


def test_head_keys_keep_uer_names():
    assert {k for k in Classifier.from_args(tiny(), 31, 2).state_dict() if not k.startswith(("embedding.", "encoder."))} == {
        "output_layer_1.weight", "output_layer_1.bias", "output_layer_2.weight", "output_layer_2.bias"}
    assert {k for k in Tagger.from_args(tiny(), 31, 7).state_dict() if k.startswith("output")} == {
        "output_layer.weight", "output_layer.bias"}
    assert {k for k in MultitaskClassifier.from_args(tiny(), 31, [2, 3]).state_dict() if k.startswith("output")} == {
        f"output_layers_{i}.{t}.{p}" for i in (1, 2) for t in (0, 1) for p in ("weight", "bias")}


def test_inference_load_refuses_missing_tensors_and_pretrained_load_reports(tmp_path):
    args = tiny()
    classifier = Classifier.from_args(args, 31, 2)
    path = str(tmp_path / "classifier.bin")
    save_model(classifier, path, args)
    tagger = Tagger.from_args(args, 31, 4)
    with pytest.raises(UserInputError, match="no trained task head"):
        load_for_inference(tagger, path)
    report = load_pretrained(tagger, path)
    assert set(report.missing) == {"output_layer.weight", "output_layer.bias"}
    assert set(report.unexpected) == {k for k in classifier.state_dict() if k.startswith("output_layer_")}
    assert load_for_inference(Classifier.from_args(args, 31, 2), path).loaded


def brute_force(emissions, crf):
    length, tags = emissions.shape
    scores = {}
    for path in itertools.product(range(tags), repeat=length):
        score = crf.start_transitions[path[0]] + crf.end_transitions[path[-1]] + emissions[0, path[0]]
        for t in range(1, length):
            score = score + crf.transitions[path[t - 1], path[t]] + emissions[t, path[t]]
        scores[path] = float(score.detach())
    return scores


def test_crf_matches_brute_force_on_padded_batches():
    torch.manual_seed(0)
    crf = CRF(3)
    with torch.no_grad():
        for param in crf.parameters():
            param.normal_()
    emissions = torch.randn(2, 4, 3)
    mask = torch.tensor([[True] * 4, [True, True, True, False]])
    tags = torch.tensor([[0, 2, 1, 1], [2, 2, 0, 0]])
    decoded = crf.decode(emissions, mask)
    nll = 0.0
    for b, length in enumerate((4, 3)):
        scores = brute_force(emissions[b, :length], crf)
        best = max(scores, key=scores.get)
        assert decoded[b, :length].tolist() == list(best)
        log_z = torch.logsumexp(torch.tensor(list(scores.values())), 0)
        nll += float(log_z) - scores[tuple(tags[b, :length].tolist())]
    assert crf.neg_log_likelihood(emissions, tags, mask).item() == pytest.approx(nll, rel=1e-5)


def test_metrics_never_divide_by_zero():
    matrix = confusion_matrix([0, 0, 0], [0, 1, 1], 3)
    assert matrix.tolist() == [[1, 2, 0], [0, 0, 0], [0, 0, 0]]  # rows = predictions
    assert precision_recall_f1(matrix)[1] == (0.0, 0.0, 0.0) and precision_recall_f1(matrix)[2] == (0.0, 0.0, 0.0)
    assert macro_f1(matrix) == pytest.approx(0.5 / 3)  # label 0: p 1/3, r 1, f1 0.5
    assert entity_prf([["O", "O"]], [["O", "O"]])["f1"] == 0.0


def test_entities_are_exact_spans_with_their_type():
    assert extract_entities("B-PER I-PER O B-LOC B-LOC I-ORG".split()) == {
        (0, 2, "PER"), (3, 4, "LOC"), (4, 5, "LOC"), (5, 6, "ORG")}
    assert extract_entities("B-PER I-LOC".split()) == {(0, 1, "PER"), (1, 2, "LOC")}  # the type must continue
    scores = entity_prf([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "O", "O", "B-LOC"]])
    assert (scores["correct"], scores["gold"], scores["predicted"]) == (1, 2, 2)


def test_mrr_counts_one_rank_per_question_and_ties_against_it():
    groups = [[0, 1, 2], [3, 4], [5, 6]]
    scores = [0.9, 0.5, 0.1, 0.3, 0.3, 0.2, 0.2]
    labels = [0, 1, 0, 0, 1, 0, 0]
    mrr, skipped = mean_reciprocal_rank(groups, scores, labels)
    assert skipped == 1 and mrr == pytest.approx((1 / 2 + 1 / 2) / 2)


class FakeTerminal:
    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, text):
        self.text += text

    def flush(self):
        pass


def test_progress_bar_draws_on_a_terminal_only():
    from uer.finetune.progress import EpochProgress

    terminal = FakeTerminal()
    bar = EpochProgress(2, "epoch 1/1", stream=terminal)
    bar.update(32)
    bar.update(16)
    bar.close()
    assert "epoch 1/1" in terminal.text and "2/2" in terminal.text and terminal.text.endswith("\n")
    assert bar.examples == 48
    quiet = FakeTerminal()
    quiet.isatty = lambda: False
    silent = EpochProgress(2, "epoch", stream=quiet)
    silent.update(3)
    silent.close()
    assert quiet.text == "" and silent.examples == 3
