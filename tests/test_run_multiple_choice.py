"""run_c3.py / run_chid.py and their inference scripts: readers, bad input, the multiple-choice
head, the one-idiom-per-blank assignment, and both tasks end to end (synthetic tasks where the
right choice is marked, and a slice of the shipped C3 dev set)."""
import json
import logging
import os
import random
from argparse import Namespace

import numpy as np
import pytest
import torch

from tests.conftest import data_file, load_script
from uer.finetune.chid import assign_candidates, read_chid
from uer.finetune.multiple_choice import read_c3
from uer.model_builder import model_args
from uer.models.multiple_choice import MultipleChoice
from uer.tokenizers import CharTokenizer
from uer.tokenizers.vocab import Vocab
from uer.utils.errors import UserInputError

pytestmark = pytest.mark.usefixtures("one_thread")

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused1]"]
LETTERS = "abcdefghijklmnopqrst"
MARK = "甲"
TINY = {"emb_size": 32, "hidden_size": 32, "feedforward_size": 64, "heads_num": 4, "layers_num": 2,
        "dropout": 0.0, "max_seq_length": 64, "layernorm_eps": 1e-12}


def write_vocab_and_config(directory) -> tuple:
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(SPECIALS + list(LETTERS + MARK + "乙丙丁，。") + [""]) + "\n", encoding="utf-8")
    config = directory / "tiny.json"
    config.write_text(json.dumps(TINY), encoding="utf-8")
    return str(vocab), str(config)


def words(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(LETTERS) for _ in range(n))


def synthetic_c3(path, documents: int, seed: int, with_ids: bool = False, max_choices: int = 5) -> None:
    """2..max_choices choices; the right one (anywhere) holds the mark."""
    rng = random.Random(seed)
    items = []
    for d in range(documents):
        questions = []
        for q in range(rng.randint(1, 2)):
            choices = [words(rng, 2) for _ in range(rng.randint(2, max_choices))]
            gold = rng.randrange(len(choices))
            choices[gold] = MARK + words(rng, 1)
            question = {"question": words(rng, 4), "choice": choices, "answer": choices[gold]}
            if with_ids:
                question["id"] = f"{d}-{q}"
            questions.append(question)
        items.append([[words(rng, 10), words(rng, 8)], questions, f"doc{d}"])
    path.write_text(json.dumps(items, ensure_ascii=False, indent=2), encoding="utf-8")


def synthetic_chid(data_path, answer_path, lines: int, seed: int, first_tag: int = 0, double_blank: bool = False):
    """3..5 four-character candidates a line; the right one of each blank holds the mark."""
    rng = random.Random(seed)
    answers, tag = {}, first_tag
    with open(data_path, "w", encoding="utf-8") as handle:
        for _ in range(lines):
            candidates = [words(rng, 4) for _ in range(rng.randint(3, 5))]
            blanks = 2 if double_blank else 1
            golds = rng.sample(range(len(candidates)), blanks)
            passages = []
            for gold in golds:
                candidates[gold] = MARK + words(rng, 3)
                name = f"#idiom{tag:06d}#"
                answers[name] = gold
                passages.append(words(rng, rng.randint(3, 20)) + name + words(rng, rng.randint(3, 20)))
                tag += 1
            handle.write(json.dumps({"candidates": candidates, "content": passages}, ensure_ascii=False) + "\n")
    answer_path.write_text(json.dumps(answers, indent=2), encoding="utf-8")


def accuracy_lines(caplog) -> list:
    return [float(r.getMessage().split()[2]) for r in caplog.records if r.getMessage().startswith("Acc. (Correct")]


# --- the head ---------------------------------------------------------------------------------

def test_absent_choices_are_not_encoded_and_never_win():
    torch.manual_seed(0)
    model = MultipleChoice.from_args(model_args({**TINY, "max_seq_length": 16}), 30).eval()
    src = torch.randint(5, 30, (2, 3, 6))
    seg = torch.ones(2, 3, 6, dtype=torch.long)
    src[0, 2], seg[0, 2] = 0, 0             # question 0 has two choices
    out = model({"src": src, "seg": seg, "tgt": torch.tensor([1, 2])})
    assert out["logits"].shape == (2, 3) and out["logits"][0, 2] == -10000.0
    assert torch.isfinite(out["loss"])
    alone = model({"src": src[:1, :2], "seg": seg[:1, :2]})["logits"]   # the same question without the pad row
    assert torch.allclose(alone, out["logits"][:1, :2], atol=1e-5)


# --- C3 ----------------------------------------------------------------------------------------

def test_c3_gold_index_for_any_number_of_choices(tmp_path):
    vocab, _ = write_vocab_and_config(tmp_path)
    path = tmp_path / "c3.json"
    items = [[["abc"], [{"question": "q", "choice": ["aa", "bb", "cc", "dd", "ee"], "answer": "ee"},
                        {"question": "q", "choice": ["aa", "bb"], "answer": "bb", "id": 7}], "d0"]]
    path.write_text(json.dumps(items), encoding="utf-8")
    data = read_c3(str(path), CharTokenizer(Vocab.load(vocab)), Namespace(seq_length=16, max_choices_num=5))
    assert list(data.fixed["tgt"]) == [4, 1]
    assert data.meta["ids"] == [0, 7]            # no id: the position in the file
    src, seg = data.sequences["src"][1], data.sequences["seg"][1]
    assert src.shape[0] == 5 and not seg[2:].any()        # absent choices are padding rows
    assert list(seg[0][seg[0] > 0]) == [1] * 6 + [2] * 4   # [CLS] bb [SEP] q [SEP] | abc [SEP]


@pytest.mark.parametrize("question, message", [
    ({"question": "q", "choice": ["aa", "bb"], "answer": "cc"}, r":8: the answer 'cc' .* is not one of its choices"),
    ({"question": "q", "answer": "aa"}, r":8: a question of document 0 has no 'choice' field"),
    ({"question": "q", "choice": ["a", "b", "c", "d", "e"], "answer": "a"},
     r"5 choices, more than --max_choices_num 4"),
    ({"question": "q", "choice": ["a", "b"], "id": 3}, r":8: a question of document 0 has no 'answer'.*run_c3_infer"),
])
def test_c3_bad_questions_name_the_line(tmp_path, question, message):
    vocab, _ = write_vocab_and_config(tmp_path)
    path = tmp_path / "c3.json"
    path.write_text(json.dumps([[["abc", "def"], [question], "d0"]], indent=2), encoding="utf-8")
    with pytest.raises(UserInputError, match=message):
        read_c3(str(path), CharTokenizer(Vocab.load(vocab)), Namespace(seq_length=16, max_choices_num=4))


def test_c3_end_to_end_with_five_choices(tmp_path, caplog):
    vocab, config = write_vocab_and_config(tmp_path)
    synthetic_c3(tmp_path / "train.json", 150, 1)
    synthetic_c3(tmp_path / "dev.json", 30, 2, with_ids=True)
    model = str(tmp_path / "c3.bin")
    with caplog.at_level(logging.INFO):
        load_script("run_c3.py").main([
            "--vocab_path", vocab, "--config_path", config, "--tokenizer", "char", "--train_path",
            str(tmp_path / "train.json"), "--dev_path", str(tmp_path / "dev.json"), "--output_model_path", model,
            "--max_choices_num", "5", "--seq_length", "32", "--epochs_num", "2", "--batch_size", "8",
            "--learning_rate", "3e-3", "--device", "cpu"])
    assert max(accuracy_lines(caplog)) >= 0.7          # chance: about 0.3
    prediction = tmp_path / "pred.jsonl"
    load_script("inference/run_c3_infer.py").main([
        "--load_model_path", model, "--vocab_path", vocab, "--test_path", str(tmp_path / "dev.json"),
        "--prediction_path", str(prediction), "--device", "cpu"])
    rows = [json.loads(line) for line in prediction.read_text(encoding="utf-8").splitlines()]
    gold = [(q["id"], q["choice"].index(q["answer"])) for item in json.loads((tmp_path / "dev.json").read_text())
            for q in item[1]]
    assert [row["id"] for row in rows] == [qid for qid, _ in gold] and all(set(r) == {"id", "label"} for r in rows)
    assert np.mean([row["label"] == label for row, (_, label) in zip(rows, gold)]) >= 0.7


def test_c3_dev_slice(tmp_path, caplog):
    source = data_file("datasets", "c3", "dev.json")
    vocab = data_file("models", "google_zh_vocab.txt")
    documents = json.load(open(source, encoding="utf-8"))
    (tmp_path / "train.json").write_text(json.dumps(documents[:40], ensure_ascii=False), encoding="utf-8")
    (tmp_path / "dev.json").write_text(json.dumps(documents[40:60], ensure_ascii=False), encoding="utf-8")
    _, config = write_vocab_and_config(tmp_path)
    model = str(tmp_path / "c3.bin")
    with caplog.at_level(logging.INFO):
        load_script("run_c3.py").main([
            "--vocab_path", vocab, "--config_path", config, "--train_path", str(tmp_path / "train.json"),
            "--dev_path", str(tmp_path / "dev.json"), "--output_model_path", model, "--seq_length", "64",
            "--epochs_num", "1", "--batch_size", "16", "--learning_rate", "1e-3", "--device", "cpu"])
    questions = sum(len(d[1]) for d in documents[40:60])
    assert any(r.getMessage().endswith(f"/{questions})") for r in caplog.records)
    prediction = tmp_path / "pred.jsonl"
    load_script("inference/run_c3_infer.py").main([
        "--load_model_path", model, "--vocab_path", vocab, "--test_path", str(tmp_path / "dev.json"),
        "--prediction_path", str(prediction), "--device", "cpu"])
    rows = [json.loads(line) for line in prediction.read_text(encoding="utf-8").splitlines()]
    choices = [len(q["choice"]) for d in documents[40:60] for q in d[1]]
    assert [r["id"] for r in rows] == list(range(questions))      # the shipped dev set has no ids
    assert all(0 <= r["label"] < n for r, n in zip(rows, choices))


# --- ChID ----------------------------------------------------------------------------------------

def test_chid_inputs_use_segments_1_and_2_and_mark_the_blank(tmp_path):
    vocab, _ = write_vocab_and_config(tmp_path)
    tokenizer = CharTokenizer(Vocab.load(vocab))
    data_path = tmp_path / "chid.json"
    data_path.write_text(json.dumps({"candidates": ["abcd", "efgh"],
                                     "content": ["ab#idiom000001#cd#idiom000002#ef"]}) + "\n", encoding="utf-8")
    answers = tmp_path / "answer.json"
    answers.write_text(json.dumps({"#idiom000001#": 1, "#idiom000002#": 0}), encoding="utf-8")
    data = read_chid(str(data_path), tokenizer, Namespace(seq_length=32, max_choices_num=3), str(answers))
    assert list(data.fixed["tgt"]) == [1, 0] and data.meta["tags"] == ["#idiom000001#", "#idiom000002#"]
    tokens = tokenizer.convert_ids_to_tokens(data.sequences["src"][0][0])
    assert tokens == ["[CLS]", "a", "b", "c", "d", "[SEP]", "a", "b", "[unused1]", "c", "d", "[MASK]", "e", "f",
                      "[SEP]"]
    seg = data.sequences["seg"][0]
    assert list(seg[0]) == [1] * 6 + [2] * 9 and not seg[2].any()


def test_long_passages_keep_context_on_both_sides_of_the_blank(tmp_path):
    vocab, _ = write_vocab_and_config(tmp_path)
    data_path = tmp_path / "chid.json"
    data_path.write_text(json.dumps({"candidates": ["abcd"], "content": ["a" * 50 + "#idiom000001#" + "b" * 50]}),
                         encoding="utf-8")
    data = read_chid(str(data_path), CharTokenizer(Vocab.load(vocab)), Namespace(seq_length=24, max_choices_num=2))
    tokens = CharTokenizer(Vocab.load(vocab)).convert_ids_to_tokens(data.sequences["src"][0][0])
    assert len(tokens) == 24 and tokens[-1] == "[SEP]"
    blank = tokens.index("[unused1]")
    assert tokens[6:blank] == ["a"] * 8 and tokens[blank + 1:-1] == ["b"] * 8


@pytest.mark.parametrize("answers, message", [
    ({"#idiom000001#": 0}, r"answer.json: the blank #idiom000002# \(line 1 of .*\) has no answer"),
    ({"#idiom000001#": 0, "#idiom000002#": 5}, r"answer.json: the answer of #idiom000002# is 5 but its line has 2"),
    ({"#idiom000001#": 0, "#idiom000002#": "x"}, r"answer.json:1: the answer of #idiom000002# must be"),
])
def test_chid_bad_answers(tmp_path, answers, message):
    vocab, _ = write_vocab_and_config(tmp_path)
    data_path = tmp_path / "chid.json"
    data_path.write_text(json.dumps({"candidates": ["abcd", "efgh"], "content": ["a#idiom000001#b#idiom000002#"]}),
                         encoding="utf-8")
    (tmp_path / "answer.json").write_text(json.dumps(answers), encoding="utf-8")
    with pytest.raises(UserInputError, match=message):
        read_chid(str(data_path), CharTokenizer(Vocab.load(vocab)), Namespace(seq_length=24, max_choices_num=4),
                  str(tmp_path / "answer.json"))


def test_chid_bad_lines_name_the_line(tmp_path):
    vocab, _ = write_vocab_and_config(tmp_path)
    tokenizer = CharTokenizer(Vocab.load(vocab))
    good = json.dumps({"candidates": ["abcd"], "content": ["a#idiom000001#b"]})
    cases = {"{oops": r":2: malformed JSON",
             json.dumps({"content": ["x"]}): r":2: .* no 'candidates' field",
             json.dumps({"candidates": ["abcd"], "content": ["#idiom000001#"]}):
                 r":2: the blank #idiom000001# appears twice"}
    for bad, message in cases.items():
        path = tmp_path / "chid.json"
        path.write_text(good + "\n" + bad + "\n", encoding="utf-8")
        with pytest.raises(UserInputError, match=message):
            read_chid(str(path), tokenizer, Namespace(seq_length=24, max_choices_num=4))
    (tmp_path / "empty.json").write_text("\n\n", encoding="utf-8")
    with pytest.raises(UserInputError, match="empty"):
        read_chid(str(tmp_path / "empty.json"), tokenizer, Namespace(seq_length=24, max_choices_num=4))


def test_assignment_uses_each_idiom_once_per_line_and_indexes_within_the_line():
    logits = np.array([[5.0, 4.0, 0.0],     # line A, blank 1: wants 0
                       [4.9, 1.0, 0.0],     # line A, blank 2: also wants 0, gets the next best
                       [0.0, 1.0, 2.0],     # line B
                       [9.0, 0.0, -1e4]])   # line C: 2 candidates only
    assert assign_candidates(logits, ["A", "A", "B", "C"], [3, 3, 3, 2]) == [0, 1, 2, 0]
    # more blanks than candidates: the extra blank still gets its best candidate
    assert assign_candidates(np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]), [1, 1, 1], [2, 2, 2]) == [1, 0, 0]


def test_chid_end_to_end(tmp_path, caplog):
    vocab, config = write_vocab_and_config(tmp_path)
    synthetic_chid(tmp_path / "train.json", tmp_path / "train_answer.json", 150, 1)
    synthetic_chid(tmp_path / "dev.json", tmp_path / "dev_answer.json", 30, 2, first_tag=1000)
    synthetic_chid(tmp_path / "test.json", tmp_path / "test_answer.json", 20, 3, first_tag=2000, double_blank=True)
    model = str(tmp_path / "chid.bin")
    with caplog.at_level(logging.INFO):
        load_script("run_chid.py").main([
            "--vocab_path", vocab, "--config_path", config, "--train_path", str(tmp_path / "train.json"),
            "--train_answer_path", str(tmp_path / "train_answer.json"), "--dev_path", str(tmp_path / "dev.json"),
            "--dev_answer_path", str(tmp_path / "dev_answer.json"), "--output_model_path", model,
            "--max_choices_num", "5", "--seq_length", "32", "--epochs_num", "2", "--batch_size", "8",
            "--learning_rate", "3e-3", "--device", "cpu"])
    assert max(accuracy_lines(caplog)) >= 0.7          # chance: about 0.25
    assert json.loads((tmp_path / "chid.bin.config.json").read_text())["max_choices_num"] == 5
    prediction = tmp_path / "pred.json"
    load_script("inference/run_chid_infer.py").main([
        "--load_model_path", model, "--vocab_path", vocab, "--test_path", str(tmp_path / "test.json"),
        "--prediction_path", str(prediction), "--device", "cpu", "--batch_size", "3"])
    text = prediction.read_text(encoding="utf-8")
    assert text.startswith('{\n  "#idiom002000#": ')
    chosen = json.loads(text)
    gold = json.loads((tmp_path / "test_answer.json").read_text())
    assert list(chosen) == list(gold)
    lines = [json.loads(line) for line in (tmp_path / "test.json").read_text().splitlines()]
    right = 0
    for number, line in enumerate(lines):
        tags = [f"#idiom{2000 + 2 * number + k:06d}#" for k in (0, 1)]
        a, b = (chosen[tag] for tag in tags)
        assert a != b and 0 <= a < len(line["candidates"]) and 0 <= b < len(line["candidates"])
        # both blanks of a line want a marked idiom: each gets one of the two (in either order)
        right += {a, b} == {gold[tag] for tag in tags}
    assert right / len(lines) >= 0.7
