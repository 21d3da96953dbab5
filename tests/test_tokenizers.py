"""Tokenizers: id-for-id parity with transformers' BertTokenizer, char/space, SentencePiece, errors."""
import argparse
import inspect
import os

import pytest

from uer.tokenizers import TOKENIZERS, BertTokenizer, build_tokenizer
from uer.tokenizers.spm import encode_pieces
from uer.tokenizers.vocab import Vocab
from uer.tokenizers.wordpiece import WordPiece
from uer.utils.constants import SPECIAL_TOKENS
from uer.utils.errors import UserInputError

from tests.conftest import data_file


# Texts on which every Hugging Face implementation (Rust and pure Python) agrees.
TEXTS = [
    "我爱北京天安门！你好，世界。",
    "Hello, world! The unaffable cafe's owner said: hello-world.",
    "Héllo Wörld Ångström naïve café ÉCOLE Ελληνικά",
    "“quotes” (parens) [brackets] {braces} --- ... ¿qué? ¡sí! 。、《》～ $5 ^_^ `x` 100%",
    "tab\there\nnewline\r\nnul\x00bell\x07 soft\xadhyphen zero\u200bwidth bad\ufffd nbsp\xa0ideo\u3000space",
    "vt\x0bff\x0cend",
    "a" * 100,
    "a" * 101,
    "b" * 150 + " ok",
    "c" * 250 + " 你好",
    "BERT模型在2018年发布，F1=93.2%，效果很好!ok吗?",
    "emoji 😀👍🏽 family 👨‍👩‍👧 ❤️ 🤖 😀😀",
    "[CLS] 你好 [SEP] x[MASK]y [PAD][UNK] [cls] [unused1] [ MASK ] [MASK",
    "ﬁne ＦＵＬＬ ｗｉｄｔｈ Ⅻ ½ ²",
    "",
    "   \t  ",
    "line\u2028sep\u2029para\x85nel private\ue000use",
]
# Texts on which the pure-Python BertTokenizer (transformers 4.x, BertTokenizerLegacy in 5.x) differs
# from the Rust one that transformers 5.x's BertTokenizer runs: final sigma, NFC of cased text,
# unassigned code points, CJK extension E (U+2B820-U+2B91F).
RUST_ONLY_TEXTS = [
    "ΟΔΥΣΣΕΥΣ ΣΑΣ σας",
    "cafe\u0301 e\u0308 A\u030a",
    "a\u0378b",
    "\U0002B820\U0002B821",
]

SMALL_VOCAB = SPECIAL_TOKENS + [
    "[unused1]", "", "hello", "world", "the", "un", "##aff", "##able", "cafe", "##s", "said", "ok",
    "我", "爱", "北", "京", "天", "安", "门", "你", "好", "模", "型", "年", "发", "布", "效", "果", "很",
    "é", "##é", "ö", "##ö", "ω", "##ω", "σ", "##σ", "ς", "##ς", "ο", "δ", "##υ", "##σσ", "##ε", "##α", "α",
    "😀", "fi", "##ne", "½", "²",
] + [c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"] + [
    "##" + c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
] + list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~，。！？、“”《》～¿¡")


def write_vocab(path, tokens):
    path.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")  # "" = a blank line
    return str(path)


def hf_tokenizers(vocab_path, do_lower_case, rust_only=False):
    """Every Hugging Face BERT tokenizer available, as (kind, tokenizer)."""
    transformers = pytest.importorskip("transformers")
    found = []
    if "vocab_file" in inspect.signature(transformers.BertTokenizer.__init__).parameters:
        # transformers 4.x: BertTokenizer is pure Python, BertTokenizerFast runs Rust.
        found.append(("rust", transformers.BertTokenizerFast(vocab_file=vocab_path, do_lower_case=do_lower_case)))
        found.append(("python", transformers.BertTokenizer(vocab_file=vocab_path, do_lower_case=do_lower_case)))
    else:
        # transformers 5.x: BertTokenizer runs Rust and ignores vocab_file= (it would build a
        # 5-token vocabulary), so the file goes through vocab=.
        rust = transformers.BertTokenizer(vocab=vocab_path, do_lower_case=do_lower_case)
        with open(vocab_path, encoding="utf-8") as f:
            assert len(rust.get_vocab()) == len(set(line.rstrip("\n") for line in f))
        found.append(("rust", rust))
        try:
            from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy
            found.append(("python", BertTokenizerLegacy(vocab_file=vocab_path, do_lower_case=do_lower_case)))
        except ImportError:
            pass
    return [(kind, tok) for kind, tok in found if kind == "rust" or not rust_only]


def assert_same_as_hf(vocab_path, do_lower_case, texts, rust_only=False):
    ours = BertTokenizer(Vocab.load(vocab_path), do_lower_case=do_lower_case)
    for kind, hf in hf_tokenizers(vocab_path, do_lower_case, rust_only):
        for text in texts:
            want = hf.encode(text, add_special_tokens=False)
            assert ours.encode(text) == want, (kind, text, ours.tokenize(text), hf.convert_ids_to_tokens(want))
            assert ours.convert_tokens_to_ids(ours.tokenize(text)) == want, (kind, text)


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_same_ids_as_hf_small_vocab(tmp_path, do_lower_case):
    path = write_vocab(tmp_path / "vocab.txt", SMALL_VOCAB)
    assert_same_as_hf(path, do_lower_case, TEXTS)
    assert_same_as_hf(path, do_lower_case, RUST_ONLY_TEXTS, rust_only=True)


@pytest.mark.parametrize("name, do_lower_case", [
    ("google_zh_vocab.txt", True), ("google_zh_vocab.txt", False),
    ("google_uncased_en_vocab.txt", True), ("google_cased_en_vocab.txt", False),
])
def test_same_ids_as_hf_google_vocabs(name, do_lower_case):
    path = data_file("models", name)
    assert_same_as_hf(path, do_lower_case, TEXTS)
    assert_same_as_hf(path, do_lower_case, RUST_ONLY_TEXTS, rust_only=True)


def test_same_ids_as_hf_on_corpus():
    vocab_path = data_file("models", "google_zh_vocab.txt")
    with open(data_file("corpora", "book_review_bert.txt"), encoding="utf-8") as f:
        lines = f.read().split("\n")[:3000]
    assert_same_as_hf(vocab_path, True, lines, rust_only=True)


def test_wordpiece_greedy_longest_match():
    vocab = Vocab.from_tokens(SPECIAL_TOKENS + ["un", "##aff", "##able", "##a", "##ffable", "una"])
    tok = BertTokenizer(vocab)
    assert tok.tokenize("unaffable") == ["una", "##ffable"]  # longest first piece wins, not the best split
    assert tok.tokenize("unx") == ["[UNK]"]  # an unmatched remainder makes the whole word unknown
    assert tok.tokenize("UNAFFABLE un") == ["una", "##ffable", "un"]
    assert BertTokenizer(vocab, do_lower_case=False).tokenize("UNAFFABLE un") == ["[UNK]", "un"]


def test_long_words():
    vocab = Vocab.from_tokens(SPECIAL_TOKENS + ["a", "##a"])
    assert BertTokenizer(vocab).tokenize("a" * 100) == ["a"] + ["##a"] * 99
    assert BertTokenizer(vocab).tokenize("a" * 101 + " a") == ["[UNK]", "a"]  # Hugging Face's limit
    assert BertTokenizer(vocab).tokenize("a" * 201) == ["[UNK]"]
    # Google BERT / UER-py used 200 characters.
    assert len(BertTokenizer(vocab, max_input_chars_per_word=200).tokenize("a" * 200)) == 200


def test_wordpiece_cache_eviction_keeps_results():
    vocab = Vocab.from_tokens(SPECIAL_TOKENS + ["ab", "##c", "a", "##b"])
    small = WordPiece(vocab, cache_size=2)
    for _ in range(3):
        pieces = [small.split(w)[0] for w in ["abc", "ab", "abb", "x"]]
        assert pieces == [("ab", "##c"), ("ab",), ("ab", "##b"), ("[UNK]",)]
    assert len(small._cache) <= 2


def test_convert_ids_to_tokens():
    tok = BertTokenizer(Vocab.from_tokens(SPECIAL_TOKENS + ["hello"]))
    ids = tok.encode("hello [MASK] bye")
    assert ids == [5, 4, 1]
    assert tok.convert_ids_to_tokens(ids + [99, -1]) == ["hello", "[MASK]", "[UNK]", "[UNK]", "[UNK]"]


def test_char_tokenizer(tmp_path):
    path = write_vocab(tmp_path / "vocab.txt", SPECIAL_TOKENS + ["", "我", "爱", "A"])
    tok = build_tokenizer(argparse.Namespace(tokenizer="char", vocab_path=path))
    assert tok.vocab.i2w[5] == " "  # the blank line is the space token
    assert tok.tokenize("  我 爱\tA a  ") == ["我", " ", "爱", "\t", "A", " ", "a"]
    assert tok.encode("  我 爱\tA a  ") == [6, 5, 7, 1, 8, 5, 1]  # no lower-casing
    no_space = build_tokenizer(argparse.Namespace(tokenizer="char", vocab_path=write_vocab(
        tmp_path / "v2.txt", SPECIAL_TOKENS + ["我"])))
    assert no_space.encode("我 我") == [5, 1, 5]


def test_space_tokenizer(tmp_path):
    path = write_vocab(tmp_path / "vocab.txt", SPECIAL_TOKENS + ["B-LOC", "O", "Hello"])
    tok = build_tokenizer(argparse.Namespace(tokenizer="space", vocab_path=path, do_lower_case=True))
    assert tok.tokenize(" B-LOC O  Hello\n") == ["B-LOC", "O", "", "Hello"]
    assert tok.encode(" B-LOC O  Hello hello\n") == [5, 6, 1, 7, 1]


def test_registry_and_build_tokenizer(tmp_path):
    assert TOKENIZERS.names() == ["bert", "bpe", "char", "space"]
    path = write_vocab(tmp_path / "vocab.txt", SPECIAL_TOKENS + ["hello", "##s"])
    tok = build_tokenizer(argparse.Namespace(tokenizer="bert", vocab_path=path))  # no spm/do_lower_case attrs
    assert isinstance(tok, BertTokenizer) and tok.tokenize("HELLOS") == ["hello", "##s"]
    cased = build_tokenizer(argparse.Namespace(tokenizer="bert", vocab_path=path, spm_model_path=None,
                                               do_lower_case=False))
    assert cased.tokenize("HELLOS hellos") == ["[UNK]", "hello", "##s"]
    assert isinstance(TOKENIZERS.build("bert", argparse.Namespace(vocab_path=path)), BertTokenizer)
    target = build_tokenizer(argparse.Namespace(tgt_tokenizer="space", tgt_vocab_path=path), prefix="tgt_")
    assert target.tokenize("hello x") == ["hello", "x"]
    with pytest.raises(UserInputError, match="unknown --tokenizer"):
        build_tokenizer(argparse.Namespace(tokenizer="wordpiece", vocab_path=path))


@pytest.mark.parametrize("name", ["bert", "char", "space"])
def test_vocab_without_mask_names_the_file(tmp_path, name):
    path = write_vocab(tmp_path / "no_mask_vocab.txt", ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"])
    with pytest.raises(UserInputError) as info:
        build_tokenizer(argparse.Namespace(tokenizer=name, vocab_path=path))
    assert path in str(info.value) and "[MASK]" in str(info.value)


def train_spm(tmp_path):
    spm = pytest.importorskip("sentencepiece")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(["我爱北京天安门。Hello world, 1,000 people!", "今天天气很好，我们去公园玩吧。",
                                 "the quick brown fox jumps over the lazy dog 12,345"] * 10), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(tmp_path / "tiny"), vocab_size=60, hard_vocab_limit=False,
        minloglevel=2, pad_id=0, pad_piece="[PAD]", unk_id=1, unk_piece="[UNK]", bos_id=-1, eos_id=-1,
        user_defined_symbols=["[CLS]", "[SEP]", "[MASK]"])
    return str(tmp_path / "tiny.model"), spm.SentencePieceProcessor(model_file=str(tmp_path / "tiny.model"))


def test_sentencepiece_tokenizers(tmp_path):
    model, sp = train_spm(tmp_path)
    args = argparse.Namespace(tokenizer="bert", vocab_path=None, spm_model_path=model)
    tok = build_tokenizer(args)
    assert tok.vocab.i2w[:5] == SPECIAL_TOKENS
    text = "我爱北京 Hello world [MASK] 猫 THE"
    assert tok.tokenize(text) == sp.encode(text, out_type=str)  # no lower-casing: spm normalizes
    assert tok.encode(text) == sp.encode(text)
    assert "[MASK]" in tok.tokenize(text) and 1 in tok.encode(text)  # 猫 is unknown
    char = build_tokenizer(argparse.Namespace(tokenizer="char", spm_model_path=model))
    assert char.tokenize(" 我猫 ") == ["我", "猫"]
    assert char.encode(" 我猫 ") == [sp.piece_to_id("我"), sp.unk_id()]
    space = build_tokenizer(argparse.Namespace(tokenizer="space", spm_model_path=model))
    assert space.encode("我 h  猫") == [sp.piece_to_id("我"), sp.piece_to_id("h"), 1, 1]


def test_encode_pieces_splits_number_comma():
    class FakeSpm:
        def EncodeAsPieces(self, text):
            return {"x 1,": ["▁x", "▁1,"], "1": ["▁1"], "a12,": ["▁a", "12,"], "12": ["▁1", "2"]}[text]

    assert encode_pieces(FakeSpm(), "x 1,") == ["▁x", "▁1", ","]
    assert encode_pieces(FakeSpm(), "a12,") == ["▁a", "1", "2", ","]  # no word start inside a word


def test_cluecorpussmall_spm():
    model = data_file("models", "cluecorpussmall_spm.model")
    sentencepiece = pytest.importorskip("sentencepiece")
    sp = sentencepiece.SentencePieceProcessor(model_file=model)
    tok = build_tokenizer(argparse.Namespace(tokenizer="bert", spm_model_path=model))
    for text in ["我爱北京天安门", "今天天气很好，我们去公园玩吧。Hello World 1,000元", "[MASK]是什么"]:
        assert tok.encode(text) == sp.encode(text)
    assert tok.vocab.w2i["[MASK]"] == 4 and len(tok.vocab) == sp.get_piece_size()


def test_tokenizers_pickle_for_worker_processes(tmp_path):
    import pickle

    vocab_path = write_vocab(tmp_path / "vocab.txt", SMALL_VOCAB)
    model, _ = train_spm(tmp_path)
    for args in [argparse.Namespace(tokenizer="bert", vocab_path=vocab_path, do_lower_case=False),
                 argparse.Namespace(tokenizer="bert", spm_model_path=model),
                 argparse.Namespace(tokenizer="char", vocab_path=vocab_path)]:
        tok = build_tokenizer(args)
        before = [tok.encode(text) for text in TEXTS]
        copy = pickle.loads(pickle.dumps(tok))
        assert [copy.encode(text) for text in TEXTS] == before
