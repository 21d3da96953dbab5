"""preprocess.py on corpora that do not fit the target: clear errors (exit 2, file:line), no traceback."""
import builtins
import os
import random
import subprocess
import sys

import pytest

from uer.data import corpus as corpus_module
from uer.data.format import DatasetFile
from uer.data.processors.lm import LmProcessor
from uer.utils.errors import UserInputError

from tests.test_data_helpers import (documents_corpus, expect_user_error, lines_corpus, make_vocab,
                                     run_preprocess, write)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def vocab_path(tmp_path):
    return make_vocab(tmp_path)


@pytest.fixture
def tiny_sample(monkeypatch):
    """Make the up-front check read only the first bytes, so workers meet the bad lines."""
    monkeypatch.setattr(corpus_module, "SAMPLE_BYTES", 64)


def test_cls_line_without_tab_names_file_and_line(tmp_path, vocab_path, capsys):
    corpus = write(tmp_path, "corpus.txt", "1\t我们\n0\t你好\n他们没有标签\n")
    err = expect_user_error(capsys, corpus, vocab_path, str(tmp_path / "d.pt"), "cls")
    assert f"{corpus}:3:" in err and "label<TAB>text" in err
    assert not os.path.exists(tmp_path / "d.pt")


def test_cls_label_must_be_an_integer(tmp_path, vocab_path, capsys):
    corpus = write(tmp_path, "corpus.txt", "1\t我们\npositive\t你好\n")
    err = expect_user_error(capsys, corpus, vocab_path, str(tmp_path / "d.pt"), "cls")
    assert f"{corpus}:2:" in err and "'positive'" in err


def test_cls_header_line_is_skipped(tmp_path, vocab_path):
    corpus = write(tmp_path, "corpus.txt", "label\ttext_a\n1\t我们\n0\t你好\n")
    run_preprocess(corpus, vocab_path, str(tmp_path / "d.pt"), "cls")
    assert len(DatasetFile(str(tmp_path / "d.pt"))) == 2


@pytest.mark.parametrize("target", ["seq2seq", "prefixlm"])
def test_pair_line_needs_exactly_one_tab_even_deep_in_a_worker_shard(tmp_path, vocab_path, capsys, tiny_sample, target):
    rows = [f"我们{i}\t你好" for i in range(200)]
    rows[150] = "我们\t你好\t多了一列"
    corpus = write(tmp_path, "corpus.txt", "\n".join(rows).replace("0", "") + "\n")
    err = expect_user_error(capsys, corpus, vocab_path, str(tmp_path / "d.pt"), target, processes=2)
    assert f"{corpus}:151:" in err and "3 tab-separated column(s)" in err


def test_invalid_utf8_names_the_line_in_a_later_shard(tmp_path, vocab_path, capsys, tiny_sample):
    text = lines_corpus(random.Random(0), 300).encode("utf-8").split(b"\n")
    text[250] = b"\xff\xfe broken"
    corpus = str(tmp_path / "corpus.txt")
    with open(corpus, "wb") as f:
        f.write(b"\n".join(text))
    err = expect_user_error(capsys, corpus, vocab_path, str(tmp_path / "d.pt"), "mlm", processes=2)
    assert f"{corpus}:251:" in err and "UTF-8" in err


def test_empty_and_blank_corpora(tmp_path, vocab_path, capsys):
    empty = write(tmp_path, "empty.txt", "")
    err = expect_user_error(capsys, empty, vocab_path, str(tmp_path / "d.pt"), "mlm")
    assert "empty" in err
    blank = write(tmp_path, "blank.txt", "\n  \n\n")
    err = expect_user_error(capsys, blank, vocab_path, str(tmp_path / "d.pt"), "lm")
    assert "only blank lines" in err
    missing = str(tmp_path / "missing.txt")
    err = expect_user_error(capsys, missing, vocab_path, str(tmp_path / "d.pt"), "lm")
    assert "not found" in err


def test_bert_needs_blank_line_document_breaks(tmp_path, vocab_path, capsys):
    corpus = write(tmp_path, "corpus.txt", lines_corpus(random.Random(1), 30))
    err = expect_user_error(capsys, corpus, vocab_path, str(tmp_path / "d.pt"), "bert")
    assert "no blank line" in err and "--target mlm" in err


def test_bad_options(tmp_path, vocab_path, capsys):
    corpus = write(tmp_path, "corpus.txt", documents_corpus(random.Random(2), 10))
    out = str(tmp_path / "d.pt")
    err = expect_user_error(capsys, corpus, vocab_path, out, "bert", "--data_processor", "mlm")
    assert "disagree" in err
    err = expect_user_error(capsys, corpus, vocab_path, out, "bert", "--seq_length", "4")
    assert "--seq_length" in err
    err = expect_user_error(capsys, corpus, vocab_path, out, "bert", "--dup_factor", "0")
    assert "--dup_factor" in err
    bad_vocab = write(tmp_path, "bad_vocab.txt", "[PAD]\n[UNK]\n我\n")
    err = expect_user_error(capsys, corpus, bad_vocab, out, "bert")
    assert "[CLS]" in err


def test_whole_word_masking_without_jieba_is_a_clear_error(tmp_path, vocab_path, capsys, monkeypatch):
    real_import = builtins.__import__

    def no_jieba(name, *args, **kwargs):
        if name == "jieba":
            raise ImportError("No module named 'jieba'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_jieba)
    corpus = write(tmp_path, "corpus.txt", lines_corpus(random.Random(3), 10))
    err = expect_user_error(capsys, corpus, vocab_path, str(tmp_path / "d.pt"), "mlm", "--whole_word_masking")
    assert "pip install jieba" in err


def test_a_crashing_worker_fails_the_whole_command(tmp_path, vocab_path, monkeypatch):
    corpus = write(tmp_path, "corpus.txt", lines_corpus(random.Random(4), 200))
    original = LmProcessor.process

    def crash_in_second_shard(self, lines, writer, shard_index):
        if shard_index == 1:
            raise ValueError("boom in shard 1")
        return original(self, lines, writer, shard_index)

    monkeypatch.setattr(LmProcessor, "process", crash_in_second_shard)
    with pytest.raises(RuntimeError, match="worker 1 failed(.|\n)*boom in shard 1"):
        run_preprocess(corpus, vocab_path, str(tmp_path / "d.pt"), "lm", processes=2)
    assert sorted(os.listdir(tmp_path)) == ["corpus.txt", "vocab.txt"]  # no output, no shards left

    def die_in_second_shard(self, lines, writer, shard_index):
        if shard_index == 1:
            os._exit(3)
        return original(self, lines, writer, shard_index)

    monkeypatch.setattr(LmProcessor, "process", die_in_second_shard)
    with pytest.raises(RuntimeError, match="worker 1 died"):
        run_preprocess(corpus, vocab_path, str(tmp_path / "d.pt"), "lm", processes=2)
    assert sorted(os.listdir(tmp_path)) == ["corpus.txt", "vocab.txt"]


def test_script_exit_status_and_message(tmp_path, vocab_path):
    corpus = write(tmp_path, "corpus.txt", "1\t好\nno tab here\n")
    result = subprocess.run([sys.executable, os.path.join(REPO, "preprocess.py"), "--corpus_path", corpus,
                             "--vocab_path", vocab_path, "--dataset_path", str(tmp_path / "d.pt"),
                             "--target", "cls", "--tokenizer", "char"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert f"error: {corpus}:2:" in result.stderr and "Traceback" not in result.stderr


def test_loader_rejects_another_vocabulary_and_foreign_files(tmp_path, vocab_path):
    from uer.data.loader import build_pretrain_loader
    from uer.tokenizers.vocab import Vocab

    corpus = write(tmp_path, "corpus.txt", lines_corpus(random.Random(5), 20))
    output = str(tmp_path / "d.pt")
    run_preprocess(corpus, vocab_path, output, "mlm")
    other = Vocab.load(vocab_path)
    with pytest.raises(UserInputError, match="vocabulary of .* tokens"):
        build_pretrain_loader(output, 4, vocab=Vocab(other.i2w[:-1]))
    swapped = list(other.i2w)
    swapped[-1], swapped[-2] = swapped[-2], swapped[-1]
    with pytest.raises(UserInputError, match="different vocabulary"):
        build_pretrain_loader(output, 4, vocab=Vocab(swapped))
    build_pretrain_loader(output, 4, vocab=other)

    pickle_file = str(tmp_path / "old.pt")
    with open(pickle_file, "wb") as f:
        f.write(b"\x80\x04\x95" + b"\0" * 40)
    with pytest.raises(UserInputError, match="original UER-py"):
        build_pretrain_loader(pickle_file, 4)
    truncated = str(tmp_path / "truncated.pt")
    with open(output, "rb") as f, open(truncated, "wb") as g:
        g.write(f.read()[:-200])
    with pytest.raises(UserInputError, match="truncated"):
        build_pretrain_loader(truncated, 4)
