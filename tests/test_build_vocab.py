"""scripts/build_vocab.py, scripts/diff_vocab.py and uer.tokenizers.vocab_builder."""
import os
import subprocess
import sys

import pytest

from uer.tokenizers import TOKENIZERS
from uer.tokenizers.vocab import Vocab
from uer.tokenizers.vocab_builder import build_vocab, count_tokens, line_aligned_ranges, select_tokens
from uer.utils.constants import SPECIAL_TOKENS
from uer.utils.errors import UserInputError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_script(name, *args):
    return subprocess.run([sys.executable, os.path.join(REPO, "scripts", name), *args],
                          capture_output=True, text=True, cwd=REPO)


def _corpus(tmp_path, lines, name="corpus.txt", bom=False):
    path = tmp_path / name
    path.write_bytes(("\ufeff" if bom else "").encode("utf-8") + "\n".join(lines).encode("utf-8"))
    return str(path)


# The last line has no newline; a tab and edge spaces are kept or stripped like the tokenizers do.
CHINESE = ["我爱北京天安门。", "", "天安门上太阳升", "  好 书 ！ ", "北京\t欢迎你",
           "我我我", "最后一行没有换行符"] * 7


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


@pytest.mark.parametrize("tokenizer", ["char", "space"])
def test_two_workers_write_the_same_vocab_as_one(tmp_path, tokenizer):
    corpus = _corpus(tmp_path, CHINESE + ["尾"], bom=True)
    one, two, three = (str(tmp_path / f"vocab{n}.txt") for n in (1, 2, 3))
    build_vocab([corpus], one, tokenizer, workers_num=1)
    build_vocab([corpus], two, tokenizer, workers_num=2)
    build_vocab([corpus], three, tokenizer, workers_num=3)
    assert _read(one) == _read(two) == _read(three)


def test_counts_match_the_registered_tokenizer(tmp_path):
    corpus = _corpus(tmp_path, CHINESE, bom=True)  # a leading byte-order mark is not text
    tokenizer = TOKENIZERS.get("char")(Vocab.from_tokens(SPECIAL_TOKENS))
    expected = {}
    for line in CHINESE:
        for token in tokenizer.tokenize(line):
            expected[token] = expected.get(token, 0) + 1
    assert dict(count_tokens(corpus, "char", workers_num=2)) == expected


def test_line_aligned_ranges_cover_the_file_at_line_starts(tmp_path):
    corpus = _corpus(tmp_path, ["一二三", "四", "", "五六七八九十", "x" * 40, "末"])
    data = open(corpus, "rb").read()
    for parts in range(1, 12):
        ranges = line_aligned_ranges(corpus, parts)
        assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
        assert all(end == start for (_, end), (start, _) in zip(ranges, ranges[1:]))
        assert all(data[start - 1:start] == b"\n" for start, _ in ranges[1:])
        assert len(ranges) <= parts


def test_order_special_tokens_then_frequency_then_code_point(tmp_path):
    corpus = _corpus(tmp_path, ["b a c b", "c b [CLS] d"])
    tokens = build_vocab([corpus], str(tmp_path / "vocab.txt"), "space", unused_num=2)
    assert tokens == SPECIAL_TOKENS + ["[unused1]", "[unused2]", "b", "c", "a", "d"]
    vocab = Vocab.load(str(tmp_path / "vocab.txt"))
    assert vocab.i2w == tokens
    vocab.require_special_tokens()


def test_min_count_and_max_size(tmp_path):
    counts = {"甲": 5, "乙": 3, "丙": 3, "丁": 1}
    assert select_tokens(counts, min_count=3) == SPECIAL_TOKENS + ["甲", "丙", "乙"]
    assert select_tokens(counts, max_size=7) == SPECIAL_TOKENS + ["甲", "丙"]
    with pytest.raises(UserInputError):
        select_tokens(counts, max_size=3)


def test_white_space_tokens(tmp_path):
    # space tokenizer: repeated spaces give empty tokens, which a vocab line cannot hold.
    corpus = _corpus(tmp_path, ["a  b", "a\u3000b"])
    tokens = build_vocab([corpus], str(tmp_path / "space.txt"), "space")
    # "a\u3000b" holds white space that is not a single space: left out too.
    assert tokens == SPECIAL_TOKENS + ["a", "b"]
    # char tokenizer: " " is stored (a blank line reads back as " "), other white space is not.
    tokens = build_vocab([corpus], str(tmp_path / "char.txt"), "char")
    assert " " in tokens and "\u3000" not in tokens
    assert Vocab.load(str(tmp_path / "char.txt")).i2w == tokens


def test_bad_input_names_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes("好\n".encode() * 30 + b"\xff\xfe bad\n" + "好\n".encode() * 30)
    for workers in (1, 2):
        with pytest.raises(UserInputError, match=r"bad\.txt:31: not valid UTF-8"):
            count_tokens(str(path), "char", workers_num=workers)
    with pytest.raises(UserInputError, match="corpus not found"):
        count_tokens(str(tmp_path / "missing.txt"))
    with pytest.raises(UserInputError, match="bert"):
        count_tokens(str(path), "bert")


def test_build_vocab_script_and_diff_vocab(tmp_path):
    corpus = _corpus(tmp_path, CHINESE)
    vocab_1, vocab_2 = str(tmp_path / "v1.txt"), str(tmp_path / "v2.txt")
    result = _run_script("build_vocab.py", "--corpus_path", corpus, "--vocab_path", vocab_1,
                         "--tokenizer", "char", "--workers_num", "2")
    assert result.returncode == 0, result.stderr
    assert Vocab.load(vocab_1).i2w[:5] == SPECIAL_TOKENS
    result = _run_script("build_vocab.py", "--corpus_path", corpus, "--vocab_path", vocab_2,
                         "--tokenizer", "char", "--min_count", "14")
    assert result.returncode == 0, result.stderr
    size_1, size_2 = len(Vocab.load(vocab_1)), len(Vocab.load(vocab_2))
    assert size_2 < size_1

    result = _run_script("diff_vocab.py", "--vocab_1", vocab_1, "--vocab_2", vocab_2)
    assert result.returncode == 0, result.stderr
    assert f"vocab_1 size: {size_1}" in result.stdout
    assert f"vocab_2 size: {size_2}" in result.stdout
    assert f"intersection: {size_2}" in result.stdout
    assert f"vocab_1 - vocab_2: {size_1 - size_2}" in result.stdout
    assert "vocab_2 - vocab_1: 0" in result.stdout


def test_scripts_report_bad_input_without_traceback(tmp_path):
    result = _run_script("build_vocab.py", "--corpus_path", str(tmp_path / "nope.txt"),
                         "--vocab_path", str(tmp_path / "v.txt"))
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and "nope.txt" in result.stderr
    assert "Traceback" not in result.stderr
    assert not os.path.exists(tmp_path / "v.txt")
    result = _run_script("diff_vocab.py", "--vocab_1", str(tmp_path / "a.txt"), "--vocab_2", str(tmp_path / "b.txt"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
