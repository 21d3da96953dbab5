"""preprocess.py end to end on tiny corpora: every target, sharding, counts, instance layouts."""
import os
import random

import numpy as np
import pytest

from uer.data.format import DatasetFile
from uer.data.loader import build_pretrain_loader
from uer.data.processors import DATA_PROCESSORS
from uer.tokenizers.vocab import Vocab

from tests.test_data_helpers import documents_corpus, lines_corpus, make_vocab, run_preprocess, sentence, write

ALL_TARGETS = ["bert", "mlm", "albert", "lm", "bilm", "cls", "seq2seq", "t5", "prefixlm"]
BATCH_KEYS = {
    "bert": {"src", "seg", "tgt_mlm", "is_next"}, "albert": {"src", "seg", "tgt_mlm", "is_next"},
    "mlm": {"src", "seg", "tgt_mlm"}, "lm": {"src", "seg", "tgt"}, "prefixlm": {"src", "seg", "tgt"},
    "bilm": {"src", "seg", "tgt_forward", "tgt_backward"}, "cls": {"src", "seg", "tgt"},
    "seq2seq": {"src", "seg", "tgt_in", "tgt_out", "tgt_seg"}, "t5": {"src", "seg", "tgt_in", "tgt_out", "tgt_seg"},
}


def corpus_for(target: str, rng: random.Random, size: int = 60) -> str:
    if target in ("bert", "albert"):
        return documents_corpus(rng, size)
    if target == "cls":
        rows = []
        for i in range(size):
            row = [str(i % 3), sentence(rng)] + ([sentence(rng)] if i % 2 else [])
            rows.append("\t".join(row))
        return "\n".join(rows) + "\n"
    if target in ("seq2seq", "prefixlm"):
        return "".join(f"{sentence(rng)}\t{sentence(rng)}\n" for _ in range(size))
    return lines_corpus(rng, size, high=70)


@pytest.fixture
def vocab_path(tmp_path):
    return make_vocab(tmp_path)


def test_registry_has_every_target():
    assert DATA_PROCESSORS.names() == sorted(ALL_TARGETS)


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_every_target_builds_and_loads(tmp_path, vocab_path, target):
    corpus = write(tmp_path, "corpus.txt", corpus_for(target, random.Random(0)))
    output = str(tmp_path / "out" / "dataset.pt")
    run_preprocess(corpus, vocab_path, output, target, "--dup_factor", "2")
    data = DatasetFile(output)
    assert data.header["target"] == target and len(data) > 0
    loader = build_pretrain_loader(output, 8, seed=1, vocab=Vocab.load(vocab_path))
    for _ in range(2 * len(data) // 8 + 2):  # more than an epoch: the loader never stops
        batch = next(loader)
        assert set(batch) == BATCH_KEYS[target]
        src, seg = batch["src"], batch["seg"]
        assert src.shape == seg.shape and src.shape[1] <= 32
        # padded to the longest instance of the batch, never to a fixed length
        assert (seg > 0).sum(1).max() == src.shape[1]
        assert ((src == 0) == (seg == 0)).all()
        if "tgt_out" in batch:
            assert batch["tgt_in"].shape == batch["tgt_out"].shape == batch["tgt_seg"].shape
            assert (batch["tgt_seg"] > 0).sum(1).max() == batch["tgt_in"].shape[1]
    assert loader.epoch >= 1


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_one_or_two_processes_give_the_same_instance_count(tmp_path, vocab_path, target):
    corpus = write(tmp_path, "corpus.txt", corpus_for(target, random.Random(1), size=120))
    counts = []
    for processes in (1, 2, 3):
        output = str(tmp_path / f"d{processes}.pt")
        run_preprocess(corpus, vocab_path, output, target, "--docs_buffer_size", "7", processes=processes)
        data = DatasetFile(output)
        counts.append((len(data), data.header["counts"]["lines"]))
        if processes == 1:
            first = data
        elif target in ("lm", "bilm", "cls", "seq2seq", "prefixlm"):  # no randomness: same arrays
            for name, array in first.arrays.items():
                assert np.array_equal(array, data.arrays[name]), name
    assert counts[0] == counts[1] == counts[2]


def test_full_sentences_with_several_processes_and_dup_factor(tmp_path, vocab_path):
    corpus = write(tmp_path, "corpus.txt", lines_corpus(random.Random(2), 100, high=30))
    sizes = []
    for processes in (1, 2):
        output = str(tmp_path / f"d{processes}.pt")
        run_preprocess(corpus, vocab_path, output, "mlm", "--full_sentences", "--docs_buffer_size", "30",
                       "--dup_factor", "3", processes=processes)
        data = DatasetFile(output)
        sizes.append((len(data), int(data.ragged("src").lengths().sum())))
    assert sizes[0] == sizes[1]
    # every token of the corpus (each line + [CLS] [SEP]) appears dup_factor times, never more
    text_tokens = sum(len(line) + 2 for line in open(corpus, encoding="utf-8").read().split("\n") if line)
    assert sizes[0][1] == 3 * text_tokens


def test_lm_windows_cover_every_line_and_the_last_line_without_newline(tmp_path, vocab_path):
    text = lines_corpus(random.Random(3), 40, high=80).rstrip("\n")  # the last line has no "\n"
    corpus = write(tmp_path, "corpus.txt", text)
    output = str(tmp_path / "lm.pt")
    run_preprocess(corpus, vocab_path, output, "lm", processes=2, seq_length=16)
    data = DatasetFile(output)
    vocab = Vocab.load(vocab_path)
    rows = [data.ragged("src").row(i).tolist() for i in range(len(data))]
    documents, current = [], []
    for row in rows:  # windows overlap by one token; a document ends with [SEP]
        current = row if not current else current + row[1:]
        if row[-1] == vocab.get("[SEP]"):
            documents.append(current)
            current = []
    expected = [[vocab.get("[CLS]")] + [vocab.get(c) for c in line] + [vocab.get("[SEP]")] for line in text.split("\n")]
    assert documents == expected
    batch = next(build_pretrain_loader(output, 4))
    real = batch["seg"] > 0
    assert (batch["tgt"][real] > 0).all() and (batch["tgt"][~real] == 0).all()


def test_bert_instances_layout(tmp_path, vocab_path):
    rng = random.Random(4)
    corpus = write(tmp_path, "corpus.txt", documents_corpus(rng, 30, sentences=(2, 6)))
    output = str(tmp_path / "bert.pt")
    run_preprocess(corpus, vocab_path, output, "bert", "--dynamic_masking", seq_length=24)
    data = DatasetFile(output)
    vocab = Vocab.load(vocab_path)
    cls_id, sep_id = vocab.get("[CLS]"), vocab.get("[SEP]")
    documents = ["".join(doc.split("\n")) for doc in open(corpus, encoding="utf-8").read().strip().split("\n\n")]
    seen = {0: 0, 1: 0}
    for i in range(len(data)):
        src = data.ragged("src").row(i).tolist()
        first, total = data.array("seg_pos")[i].tolist()
        assert len(src) == total <= 24
        assert src[0] == cls_id and src[first - 1] == sep_id and src[-1] == sep_id
        a = "".join(vocab.i2w[t] for t in src[1:first - 1])
        b = "".join(vocab.i2w[t] for t in src[first:total - 1])
        assert a and b
        is_next = int(data.array("is_next")[i])
        seen[is_next] += 1
        if is_next == 0 and len(a) + len(b) < 21:  # untruncated actual next: B follows A in one document
            assert any(a + b in doc for doc in documents)
    assert seen[0] > 0 and seen[1] > 0
    assert data.header["dup_factor"] == 1  # dynamic masking builds each instance once
    assert not data.has("mlm")


def test_albert_swaps_sentence_order(tmp_path, vocab_path):
    corpus = write(tmp_path, "corpus.txt", documents_corpus(random.Random(5), 40, sentences=(2, 4)))
    output = str(tmp_path / "albert.pt")
    run_preprocess(corpus, vocab_path, output, "albert", "--dynamic_masking", seq_length=64)
    data = DatasetFile(output)
    vocab = Vocab.load(vocab_path)
    documents = ["".join(doc.split("\n")) for doc in open(corpus, encoding="utf-8").read().strip().split("\n\n")]
    labels = data.array("is_next")[:].tolist()
    assert 0 < sum(labels) < len(labels)
    for i, label in enumerate(labels):
        src = data.ragged("src").row(i).tolist()
        first, total = data.array("seg_pos")[i].tolist()
        a = "".join(vocab.i2w[t] for t in src[1:first - 1])
        b = "".join(vocab.i2w[t] for t in src[first:total - 1])
        joined = b + a if label else a + b
        if total < 64:  # not truncated: A and B are consecutive text of one document
            assert any(joined in doc for doc in documents)


def test_cls_pair_lines_keep_their_own_label(tmp_path, vocab_path):
    corpus = write(tmp_path, "corpus.txt", "2\t我们\n0\t你好\t他们\n1\t天地\t山水\n")
    output = str(tmp_path / "cls.pt")
    run_preprocess(corpus, vocab_path, output, "cls")
    data = DatasetFile(output)
    assert data.array("label")[:].tolist() == [2, 0, 1]
    assert data.header["labels_num"] == 3
    loader = build_pretrain_loader(output, 3, instances_buffer_size=3, bucket_batches=1)
    batch = next(loader)
    labels = batch["tgt"].tolist()
    assert sorted(labels) == [0, 1, 2]
    for row, label in enumerate(labels):
        seg = batch["seg"][row].tolist()
        assert seg == ([1, 1, 1, 1, 0, 0, 0] if label == 2 else [1, 1, 1, 1, 2, 2, 2])


def test_prefixlm_trains_the_first_target_token(tmp_path, vocab_path):
    corpus = write(tmp_path, "corpus.txt", "我们\t你好\n")
    output = str(tmp_path / "p.pt")
    run_preprocess(corpus, vocab_path, output, "prefixlm")
    vocab = Vocab.load(vocab_path)
    batch = next(build_pretrain_loader(output, 1))
    ids = [vocab.get(t) for t in ["[CLS]", "我", "们", "[SEP]", "你", "好", "[SEP]"]]
    assert batch["src"][0].tolist() == ids
    assert batch["seg"][0].tolist() == [1, 1, 1, 1, 2, 2, 2]
    assert batch["tgt"][0].tolist() == [0, 0, 0, ids[4], ids[5], ids[6], 0]


def test_bilm_targets(tmp_path, vocab_path):
    corpus = write(tmp_path, "corpus.txt", "我们你好他\n")
    output = str(tmp_path / "b.pt")
    run_preprocess(corpus, vocab_path, output, "bilm", seq_length=3)
    vocab = Vocab.load(vocab_path)
    loader = build_pretrain_loader(output, 2)
    batch = next(loader)
    rows = sorted(zip(batch["src"].tolist(), batch["tgt_forward"].tolist(), batch["tgt_backward"].tolist()),
                  key=lambda r: -sum(1 for t in r[0] if t))
    word = [vocab.get(c) for c in "我们你好他"]
    cls_id, sep_id = vocab.get("[CLS]"), vocab.get("[SEP]")
    assert rows[0] == (word[:3], word[1:4], [cls_id] + word[:2])
    assert rows[1] == (word[3:] + [0], word[4:] + [sep_id, 0], word[2:4] + [0])


def test_seq2seq_with_a_target_vocabulary(tmp_path, vocab_path):
    tgt_dir = tmp_path / "tgt"
    tgt_dir.mkdir()
    tgt_vocab = make_vocab(tgt_dir, extra="xyz")
    corpus = write(tmp_path, "corpus.txt", "我们\t你好世界\n他\t山\n")
    output = str(tmp_path / "s.pt")
    run_preprocess(corpus, vocab_path, output, "seq2seq", "--tgt_vocab_path", tgt_vocab, "--tgt_tokenizer", "char",
                   "--tgt_seq_length", "3")
    data = DatasetFile(output)
    assert data.header["tgt_vocab"]["size"] == len(Vocab.load(tgt_vocab))
    tv = Vocab.load(tgt_vocab)
    loader = build_pretrain_loader(output, 2, vocab=Vocab.load(vocab_path), tgt_vocab=tv)
    batch = next(loader)
    rows = {len([t for t in row if t]): i for i, row in enumerate(batch["tgt_in"].tolist())}
    long_row = rows[3]  # [CLS] 你 好 (the target cut to --tgt_seq_length)
    assert batch["tgt_in"][long_row].tolist() == [tv.get("[CLS]"), tv.get("你"), tv.get("好")]
    assert batch["tgt_out"][long_row].tolist() == [tv.get("你"), tv.get("好"), tv.get("[SEP]")]


def test_t5_decoder_length_follows_the_masks(tmp_path, vocab_path):
    corpus = write(tmp_path, "corpus.txt", lines_corpus(random.Random(6), 10, low=280, high=300))
    output = str(tmp_path / "t5.pt")
    run_preprocess(corpus, vocab_path, output, "t5", "--dup_factor", "1", seq_length=300)
    batch = next(build_pretrain_loader(output, 4))
    vocab = Vocab.load(vocab_path)
    counts = (batch["tgt_seg"] > 0).sum(1)
    assert counts.max() > 40  # far beyond the original's fixed 32 (it looped forever there)
    for row in range(batch["src"].shape[0]):
        n = int(counts[row])
        assert batch["tgt_in"][row, 0] == vocab.get("[CLS]") and batch["tgt_out"][row, n - 1] == vocab.get("[SEP]")
        assert batch["tgt_in"][row, 1:n].tolist() == batch["tgt_out"][row, :n - 1].tolist()


def test_data_processor_is_another_name_for_target(tmp_path, vocab_path):
    corpus = write(tmp_path, "corpus.txt", lines_corpus(random.Random(7), 10))
    output = str(tmp_path / "d.pt")
    import preprocess

    preprocess.main(["--corpus_path", corpus, "--vocab_path", vocab_path, "--dataset_path", output,
                     "--data_processor", "lm", "--tokenizer", "char", "--no_progress"])
    assert DatasetFile(output).header["target"] == "lm"


def test_output_is_atomic_and_temporary_files_stay_beside_it(tmp_path, vocab_path, monkeypatch):
    corpus = write(tmp_path, "corpus.txt", documents_corpus(random.Random(8), 30))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    output = str(out_dir / "dataset.pt")
    write(out_dir, "dataset.pt", "old content")
    from uer.data import writer

    def failing_merge(*args, **kwargs):
        assert any(name.startswith(".dataset.pt.shards-") for name in os.listdir(out_dir))
        raise RuntimeError("disk full")

    monkeypatch.setattr("uer.data.pipeline.merge_shards", failing_merge)
    with pytest.raises(RuntimeError):
        run_preprocess(corpus, vocab_path, output, "bert", processes=2)
    assert open(output, encoding="utf-8").read() == "old content"  # untouched by the failed run
    assert os.listdir(out_dir) == ["dataset.pt"]  # shards cleaned up
    monkeypatch.setattr("uer.data.pipeline.merge_shards", writer.merge_shards)
    run_preprocess(corpus, vocab_path, output, "bert", processes=2)
    assert os.listdir(out_dir) == ["dataset.pt"] and os.listdir(cwd) == []
    assert len(DatasetFile(output)) > 0


@pytest.mark.parametrize("dynamic", [False, True])
def test_span_masking_settings_reach_the_masks(tmp_path, vocab_path, dynamic):
    corpus = write(tmp_path, "corpus.txt", lines_corpus(random.Random(9), 80, low=40, high=60))
    output = str(tmp_path / "span.pt")
    run_preprocess(corpus, vocab_path, output, "mlm", "--span_masking", "--span_geo_prob", "0.3",
                   "--span_max_length", "5", "--dup_factor", "1", *(["--dynamic_masking"] if dynamic else []),
                   seq_length=64)
    masking = DatasetFile(output).header["masking"]
    assert masking["span_masking"] and masking["span_max_length"] == 5
    assert masking["mode"] == ("dynamic" if dynamic else "static")
    chosen = np.concatenate([(b["tgt_mlm"] > 0).numpy() for b in [next(build_pretrain_loader(output, 80))]])
    runs = [len(run) for row in chosen for run in "".join("1" if c else "0" for c in row).split("0") if run]
    assert max(runs) > 1 and np.mean(runs) > 1.3  # (adjacent spans may join into longer runs)


def test_document_buffer_gives_back_each_document_and_sentence():
    from uer.data.processors.documents import DocumentBuffer

    documents = [(1, [[5, 6], [7]]), (4, [[8, 9, 10]]), (9, [[11], [12], [13, 14]])]
    buffer = DocumentBuffer("H")
    for first_line, sentences in documents:
        buffer.append(first_line, sentences)
    assert len(buffer) == 3
    assert list(buffer.first_lines) == [1, 4, 9]
    for index, (first_line, sentences) in enumerate(documents):
        got_line, got = buffer[index]
        assert got_line == first_line and [list(s) for s in got] == sentences
