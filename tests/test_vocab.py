"""Vocab: file format, errors naming the file, atomic save, SentencePiece pieces."""
import argparse
import logging
import os

import pytest

from uer.tokenizers.vocab import Vocab, load_vocab_from_args
from uer.utils.constants import PAD_ID, SPECIAL_TOKENS, UNK_TOKEN
from uer.utils.errors import UserInputError


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return str(path)


def train_spm(tmp_path, **extra):
    spm = pytest.importorskip("sentencepiece")
    corpus = tmp_path / "spm_corpus.txt"
    corpus.write_text("\n".join(["我爱北京天安门。Hello world, 1,000 people!", "今天天气很好，我们去公园玩吧。",
                                 "the quick brown fox jumps over the lazy dog"] * 10), encoding="utf-8")
    options = dict(pad_id=0, pad_piece="[PAD]", unk_id=1, unk_piece="[UNK]", bos_id=-1, eos_id=-1,
                   user_defined_symbols=["[CLS]", "[SEP]", "[MASK]"])
    options.update(extra)
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(tmp_path / "tiny"), vocab_size=60,
                                   hard_vocab_limit=False, minloglevel=2, **options)
    return str(tmp_path / "tiny.model")


def test_load_format(tmp_path):
    path = write(tmp_path / "vocab.txt", "[PAD]\n[UNK] 12\n\n   \n\tword\tcount\n##ing\n")
    vocab = Vocab.load(path)
    assert vocab.i2w == ["[PAD]", "[UNK]", " ", " ", "word", "##ing"]
    assert len(vocab) == 6
    assert vocab.w2i["word"] == 4 and vocab.get("##ing") == 5
    assert vocab.get("absent") == vocab.w2i[UNK_TOKEN] == 1
    assert "word" in vocab and "absent" not in vocab
    assert vocab.path == path


def test_load_line_endings_bom_and_last_line(tmp_path):
    vocab = Vocab.load(write(tmp_path / "v.txt", "\ufeff[PAD]\r\na\r\nb"))
    assert vocab.i2w == ["[PAD]", "a", "b"]


def test_duplicates_keep_last_id_and_warn(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        vocab = Vocab.load(write(tmp_path / "v.txt", "a\nb\na\n"))
    assert vocab.i2w == ["a", "b", "a"] and vocab.w2i["a"] == 2  # Hugging Face keeps the last id too
    assert "duplicate" in caplog.text


def test_utf8_error_names_file_and_line(tmp_path):
    path = write(tmp_path / "bad.txt", b"[PAD]\n[UNK]\nok\n\xff\xfe\n")
    with pytest.raises(UserInputError) as info:
        Vocab.load(path)
    assert info.value.path == path and info.value.line == 4
    assert "bad.txt:4" in str(info.value) and "UTF-8" in str(info.value)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(UserInputError, match="vocabulary file not found"):
        Vocab.load(str(tmp_path / "absent.txt"))
    with pytest.raises(UserInputError, match="empty"):
        Vocab.load(write(tmp_path / "empty.txt", ""))


def test_from_tokens_and_get():
    vocab = Vocab.from_tokens(SPECIAL_TOKENS + ["a"])
    assert vocab.w2i == {t: i for i, t in enumerate(SPECIAL_TOKENS + ["a"])}
    assert vocab.get("zzz") == 1
    no_unk = Vocab.from_tokens(["[PAD]", "a"])
    with pytest.raises(UserInputError, match=r"\[UNK\]"):
        no_unk.get("zzz")


def test_save_round_trip_is_atomic(tmp_path):
    tokens = SPECIAL_TOKENS + [" ", "你", "##好", "é"]
    path = tmp_path / "out" / "vocab.txt"
    path.parent.mkdir()
    path.write_text("old content\n", encoding="utf-8")
    Vocab.from_tokens(tokens).save(str(path))
    assert Vocab.load(str(path)).i2w == tokens
    assert os.listdir(path.parent) == ["vocab.txt"]  # no temporary file left behind
    with pytest.raises(ValueError, match="white space"):
        Vocab.from_tokens(["a b"]).save(str(tmp_path / "x.txt"))
    assert not (tmp_path / "x.txt").exists()


def test_require_names_file_and_missing_tokens(tmp_path):
    path = write(tmp_path / "no_mask.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n")
    vocab = Vocab.load(path)
    with pytest.raises(UserInputError) as info:
        vocab.require(SPECIAL_TOKENS, "pre-training")
    message = str(info.value)
    assert path in message and "[MASK]" in message and "pre-training" in message
    assert "[CLS]" not in message.split("lacks")[1].split(",")[0]  # only the missing one is listed
    vocab.require(["[PAD]", "a"], "anything")  # present tokens pass


def test_require_special_tokens_wants_pad_first(tmp_path):
    Vocab.from_tokens(SPECIAL_TOKENS).require_special_tokens()
    path = write(tmp_path / "pad_last.txt", "[UNK]\n[CLS]\n[SEP]\n[MASK]\n[PAD]\n")
    with pytest.raises(UserInputError, match=f"padding is id {PAD_ID}") as info:
        Vocab.load(path).require_special_tokens()
    assert info.value.path == path


def test_from_spm(tmp_path):
    model = train_spm(tmp_path)
    vocab = Vocab.from_spm(model)
    assert vocab.i2w[:5] == SPECIAL_TOKENS
    assert vocab.sp_model.get_piece_size() == len(vocab)
    assert vocab.get("never-a-piece") == vocab.sp_model.unk_id() == 1
    vocab.require_special_tokens()


def test_from_spm_default_unk_piece(tmp_path):
    model = train_spm(tmp_path, pad_id=-1, unk_id=0, unk_piece="<unk>", user_defined_symbols=[])
    vocab = Vocab.from_spm(model)
    assert vocab.unk_token == "<unk>" and vocab.get("never-a-piece") == 0
    with pytest.raises(UserInputError, match=r"\[CLS\]"):
        vocab.require_special_tokens()


def test_from_spm_errors(tmp_path, monkeypatch):
    pytest.importorskip("sentencepiece")
    with pytest.raises(UserInputError, match="no such"):
        Vocab.from_spm(str(tmp_path / "absent.model"))
    with pytest.raises(UserInputError, match="not a SentencePiece model"):
        Vocab.from_spm(write(tmp_path / "junk.model", b"not a model"))
    monkeypatch.setitem(__import__("sys").modules, "sentencepiece", None)  # as if not installed
    with pytest.raises(UserInputError, match="pip install sentencepiece"):
        Vocab.from_spm(str(tmp_path / "junk.model"))


def test_load_vocab_from_args(tmp_path):
    path = write(tmp_path / "v.txt", "\n".join(SPECIAL_TOKENS) + "\n")
    assert load_vocab_from_args(argparse.Namespace(vocab_path=path)).i2w == SPECIAL_TOKENS
    assert load_vocab_from_args(argparse.Namespace(tgt_vocab_path=path), prefix="tgt_").path == path
    with pytest.raises(UserInputError, match="--vocab_path"):
        load_vocab_from_args(argparse.Namespace(vocab_path=None))
    model = train_spm(tmp_path)
    both = argparse.Namespace(vocab_path=path, spm_model_path=model)
    assert load_vocab_from_args(both).path == model  # the SentencePiece model wins
