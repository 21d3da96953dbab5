"""run_cmrc.py / inference/run_cmrc_infer.py: the CMRC metric, sliding windows, span decoding, bad
input, and both scripts end to end on a synthetic task and on the shipped cmrc_test slice."""
import json
import logging
import os
import random
from argparse import Namespace

import numpy as np
import pytest

from tests.conftest import data_file, load_script
from uer.finetune.mrc import build_windows, decode_answers, locate_answer, read_mrc, window_spans
from uer.finetune.mrc_metric import cmrc_scores, exact_match, f1_score, mixed_segmentation
from uer.tokenizers import CharTokenizer
from uer.tokenizers.vocab import Vocab
from uer.utils.errors import UserInputError

pytestmark = pytest.mark.usefixtures("one_thread")

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused1]"]
LETTERS = "abcdefghijklmnopqrst"
ANSWER_CHARS = "甲乙丙丁戊己庚辛壬癸"
TINY = {"emb_size": 32, "hidden_size": 32, "feedforward_size": 64, "heads_num": 4, "layers_num": 2,
        "dropout": 0.0, "max_seq_length": 64, "layernorm_eps": 1e-12}


def write_vocab_and_config(directory) -> tuple:
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(SPECIALS + list(LETTERS + ANSWER_CHARS + "0123456789，。") + [""]) + "\n",
                     encoding="utf-8")
    config = directory / "tiny.json"
    config.write_text(json.dumps(TINY), encoding="utf-8")
    return str(vocab), str(config)


def squad(paragraphs) -> dict:
    return {"version": "v1.0", "data": [{"paragraphs": paragraphs, "id": "A", "title": "t"}]}


def synthetic(path, count: int, seed: int, prefix: str) -> None:
    """Contexts of letters holding one run of 1-3 CJK characters, the answer; a third of the
    contexts are longer than one window."""
    rng = random.Random(seed)
    paragraphs = []
    for i in range(count):
        left = "".join(rng.choice(LETTERS) for _ in range(rng.randint(2, 40)))
        right = "".join(rng.choice(LETTERS) for _ in range(rng.randint(2, 15)))
        answer = "".join(rng.choice(ANSWER_CHARS) for _ in range(rng.randint(1, 3)))
        question = "".join(rng.choice(LETTERS) for _ in range(3))
        paragraphs.append({"id": f"{prefix}{i}", "context": left + answer + right,
                           "qas": [{"id": f"{prefix}{i}_Q", "question": question,
                                    "answers": [{"text": answer, "answer_start": len(left)}]}]})
    path.write_text(json.dumps(squad(paragraphs), ensure_ascii=False, indent=2), encoding="utf-8")


def char_tokenizer(tmp_path) -> CharTokenizer:
    vocab_path, _ = write_vocab_and_config(tmp_path)
    return CharTokenizer(Vocab.load(vocab_path))


# --- the metric ---------------------------------------------------------------------------------

def test_mixed_segmentation_splits_cjk_characters_and_keeps_words():
    assert mixed_segmentation("CMRC比赛2018年，") == ["cmrc", "比", "赛", "2018", "年"]
    assert mixed_segmentation("Port Royal 号") == ["port", "royal", "号"]
    assert mixed_segmentation("《三体》", remove_punctuation=False) == ["《", "三", "体", "》"]


def test_exact_match_ignores_punctuation_space_and_case():
    assert exact_match("《三体》 ", ["三体"]) == 1.0
    assert exact_match("Port Royal", ["port-royal"]) == 1.0
    assert exact_match("三体二", ["三体", "黑暗森林"]) == 0.0


def test_f1_uses_the_longest_common_run_and_the_best_answer():
    # gold 北京大学 (4 segments), prediction 北京 (2): precision 1, recall 1/2
    assert f1_score("北京", ["北京大学"]) == pytest.approx(2 / 3)
    # the common run must be contiguous: 北京 + 学 share only a run of 2
    assert f1_score("北京学", ["北京大学"]) == pytest.approx(2 * (2 / 3) * (2 / 4) / (2 / 3 + 2 / 4))
    assert f1_score("北京", ["上海", "北京"]) == 1.0
    assert f1_score("", ["北京"]) == 0.0


def test_scores_are_percentages_and_missing_predictions_are_skipped():
    scores = cmrc_scores({"a": "北京", "b": None}, {"a": ["北京"], "b": ["上海"], "c": ["天津"]})
    assert scores["total"] == 3 and scores["skip"] == 2
    assert scores["em"] == pytest.approx(100 / 3) and scores["f1"] == pytest.approx(100 / 3)
    assert scores["avg"] == pytest.approx(100 / 3)


# --- reading, windows, decoding -----------------------------------------------------------------

def test_answers_are_located_even_when_answer_start_is_wrong():
    assert locate_answer("abcabc", "bc", 4) == 4
    assert locate_answer("abcabc", "bc", 3) == 4      # nearest occurrence
    assert locate_answer("abcabc", "bc", -1) == 1
    assert locate_answer("abcabc", "xy", 0) is None


def test_windows_cover_the_context_and_labels_point_at_the_answer(tmp_path):
    tokenizer = char_tokenizer(tmp_path)
    context = " ab cdefghij klmnopq rstabcdefgh ijklm甲乙 nopqrstab "   # spaces inside and at both ends
    start = context.index("甲")
    path = tmp_path / "d.json"
    path.write_text(json.dumps(squad([{"context": context, "qas": [
        {"id": "Q", "question": "abc", "answers": [{"text": "甲乙", "answer_start": start}]}]}]),
        ensure_ascii=False), encoding="utf-8")
    examples = read_mrc(str(path))
    args = Namespace(seq_length=16, doc_stride=5)
    data = build_windows(examples, tokenizer, args, with_labels=True)
    offset = 2 + 3
    covered = set()
    for w in range(len(data)):
        char_start, src = int(data.meta["char_start"][w]), data.sequences["src"][w]
        assert len(src) <= 16 and data.meta["offset"][w] == offset
        covered.update(range(char_start, char_start + len(src) - offset - 1))
        s, e = data.fixed["start_position"][w], data.fixed["end_position"][w]
        if s:
            assert tokenizer.convert_ids_to_tokens([src[s], src[e]]) == ["甲", "乙"]
            assert char_start + s - offset == start
    assert covered == set(range(len(context)))
    assert sum(1 for s in data.fixed["start_position"] if s) >= 1


def test_a_question_longer_than_the_input_is_cut_and_ends(tmp_path):
    tokenizer = char_tokenizer(tmp_path)
    path = tmp_path / "d.json"
    path.write_text(json.dumps(squad([{"context": "abcdefghij" * 3, "qas": [
        {"id": "Q", "question": "q" * 100, "answers": [{"text": "cde", "answer_start": 2}]}]}])), encoding="utf-8")
    data = build_windows(read_mrc(str(path)), tokenizer, Namespace(seq_length=12, doc_stride=128), with_labels=True)
    assert all(len(src) <= 12 for src in data.sequences["src"])
    assert data.meta["offset"][0] == 2 + (12 - 3) // 2


def test_decoding_finds_single_character_answers_and_respects_the_maximum_length():
    start = np.full(10, -5.0)
    end = np.full(10, -5.0)
    start[6], end[6] = 5.0, 5.0                  # a one-character answer at context position 3
    spans = window_spans(start, end, offset=3, n_best=3, max_answer_length=4)
    assert max(spans)[1:] == (3, 3)
    start, end = np.zeros(10), np.zeros(10)
    start[3], end[8] = 5.0, 5.0                   # 6 characters apart: longer than allowed
    assert all(last - first < 4 for _, first, last in window_spans(start, end, 3, 50, 4))


def test_the_best_window_wins_and_overlapping_spans_are_merged(tmp_path):
    tokenizer = char_tokenizer(tmp_path)
    context = "abcdefghijklmnopqrst"
    path = tmp_path / "d.json"
    path.write_text(json.dumps(squad([{"context": context, "qas": [{"id": "Q", "question": "a", "answers": []}]}])),
                    encoding="utf-8")
    examples = read_mrc(str(path), need_answers=False)
    data = build_windows(examples, tokenizer, Namespace(seq_length=12, doc_stride=4), with_labels=False)
    starts, ends = [], []
    for w in range(len(data)):
        n = len(data.sequences["src"][w])
        s, e = np.zeros(n), np.zeros(n)
        position = 14 - int(data.meta["char_start"][w]) + int(data.meta["offset"][w])   # the character 'o'
        if position < n - 1:
            s[position] = e[position] = 10.0 + w     # the later windows are surer
        starts.append(s)
        ends.append(e)
    best = decode_answers(examples, data, starts, ends, n_best=5, max_answer_length=3)[0]
    assert best[0][0] == "o" and len({text for text, _ in best}) == len(best) <= 5


# --- bad input ----------------------------------------------------------------------------------

def test_malformed_json_reports_the_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"data": [\n  {"paragraphs": [}\n]}', encoding="utf-8")
    with pytest.raises(UserInputError, match=r"bad.json:2: malformed JSON"):
        read_mrc(str(path))


@pytest.mark.parametrize("qa, message", [
    ({"id": "Q", "answers": [{"text": "a"}]}, r":9: question 'Q' has no 'question' field"),
    ({"id": "Q", "question": "x", "answers": []}, r":9: question 'Q' has no answers"),
    ({"id": "Q", "question": 3, "answers": [{"text": "a"}]}, r":9: 'question' of question 'Q' must be a string"),
])
def test_missing_or_wrong_fields_name_file_line_and_field(tmp_path, qa, message):
    path = tmp_path / "bad.json"
    document = squad([{"context": "abc", "qas": [qa]}])
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    with pytest.raises(UserInputError, match=message):
        read_mrc(str(path))


def test_empty_file_and_duplicate_ids_are_errors(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(UserInputError, match="empty"):
        read_mrc(str(empty))
    twice = tmp_path / "twice.json"
    qa = {"id": "Q", "question": "x", "answers": [{"text": "a", "answer_start": 0}]}
    twice.write_text(json.dumps(squad([{"context": "abc", "qas": [qa, qa]}])), encoding="utf-8")
    with pytest.raises(UserInputError, match="appears twice"):
        read_mrc(str(twice))


def test_answers_absent_from_the_context_are_counted_and_reported(tmp_path, caplog):
    tokenizer = char_tokenizer(tmp_path)
    path = tmp_path / "d.json"
    path.write_text(json.dumps(squad([{"context": "abcdef", "qas": [
        {"id": "ok", "question": "x", "answers": [{"text": "cd", "answer_start": 2}]},
        {"id": "lost", "question": "y", "answers": [{"text": "zz", "answer_start": 0}]}]}])), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        data = build_windows(read_mrc(str(path)), tokenizer, Namespace(seq_length=16, doc_stride=8),
                             with_labels=True, path=str(path))
    assert len(data) == 1
    assert "1 of 2 questions are left out of training" in caplog.text and "'lost'" in caplog.text


# --- end to end ---------------------------------------------------------------------------------

def test_train_then_infer_on_a_synthetic_span_task(tmp_path, caplog, capsys):
    vocab, config = write_vocab_and_config(tmp_path)
    for name, count, seed in (("train", 300, 1), ("dev", 40, 2)):
        synthetic(tmp_path / f"{name}.json", count, seed, name)
    model = str(tmp_path / "cmrc.bin")
    with caplog.at_level(logging.INFO):
        load_script("run_cmrc.py").main([
            "--vocab_path", vocab, "--config_path", config, "--train_path", str(tmp_path / "train.json"),
            "--dev_path", str(tmp_path / "dev.json"), "--test_path", str(tmp_path / "dev.json"),
            "--output_model_path", model, "--seq_length", "32", "--doc_stride", "13", "--epochs_num", "4",
            "--batch_size", "16", "--learning_rate", "3e-3", "--device", "cpu", "--report_steps", "1000"])
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Avg: ")]
    assert len(lines) == 5                                    # 4 epochs and the test set
    best = max(float(line.split(",")[1].split(":")[1]) for line in lines[:-1])
    assert best >= 60.0, lines                                # F1 of an untrained model: ~30
    assert lines[-1].endswith("Total:40,Skip:0")
    sidecar = json.loads((tmp_path / "cmrc.bin.config.json").read_text())
    assert sidecar["doc_stride"] == 13 and sidecar["tokenizer"] == "char" and sidecar["seq_length"] == 32

    prediction = tmp_path / "pred.json"
    load_script("inference/run_cmrc_infer.py").main([
        "--load_model_path", model, "--vocab_path", vocab, "--test_path", str(tmp_path / "dev.json"),
        "--prediction_path", str(prediction), "--nbest_path", str(tmp_path / "nbest.json"), "--device", "cpu"])
    text = prediction.read_text(encoding="utf-8")
    answers = json.loads(text)
    assert text.startswith('{\n    "dev0_Q": ') and all(c in text for c in "".join(answers.values()))  # not escaped
    gold = {p["qas"][0]["id"]: [p["qas"][0]["answers"][0]["text"]]
            for p in json.loads((tmp_path / "dev.json").read_text())["data"][0]["paragraphs"]}
    assert set(answers) == set(gold)
    assert cmrc_scores(answers, gold)["f1"] >= 60.0
    nbest = json.loads((tmp_path / "nbest.json").read_text(encoding="utf-8"))
    assert all(1 <= len(v) <= 20 and v[0]["text"] == answers[k] for k, v in nbest.items())


def test_bad_input_stops_the_script_with_status_2(tmp_path, capsys):
    vocab, config = write_vocab_and_config(tmp_path)
    synthetic(tmp_path / "train.json", 5, 1, "t")
    (tmp_path / "dev.json").write_text('{"data": [\n  {"paragraphs": [}\n]}', encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        load_script("run_cmrc.py").main(["--vocab_path", vocab, "--config_path", config, "--train_path",
                                    str(tmp_path / "train.json"), "--dev_path", str(tmp_path / "dev.json"),
                                    "--output_model_path", str(tmp_path / "m.bin"), "--seq_length", "32",
                                    "--device", "cpu"])
    assert stop.value.code == 2
    assert "dev.json:2: malformed JSON" in capsys.readouterr().err


def test_the_shipped_cmrc_test_slice(tmp_path, caplog):
    folder = data_file("datasets", "test_data", "cmrc_test")
    vocab = data_file("models", "google_zh_vocab.txt")
    _, config = write_vocab_and_config(tmp_path)
    model = str(tmp_path / "cmrc.bin")
    with caplog.at_level(logging.INFO):
        load_script("run_cmrc.py").main([
            "--vocab_path", vocab, "--config_path", config, "--train_path", os.path.join(folder, "train.json"),
            "--dev_path", os.path.join(folder, "dev.json"), "--output_model_path", model, "--seq_length", "64",
            "--doc_stride", "48", "--epochs_num", "1", "--batch_size", "32", "--learning_rate", "1e-3",
            "--device", "cpu"])
    assert any(r.getMessage().endswith("Total:3,Skip:0") for r in caplog.records)
    prediction = tmp_path / "pred.json"
    load_script("inference/run_cmrc_infer.py").main([
        "--load_model_path", model, "--vocab_path", vocab, "--test_path", os.path.join(folder, "test.json"),
        "--prediction_path", str(prediction), "--device", "cpu"])
    answers = json.loads(prediction.read_text(encoding="utf-8"))
    expected = [qa["id"] for article in json.load(open(os.path.join(folder, "test.json"), encoding="utf-8"))["data"]
                for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    assert list(answers) == expected and all(isinstance(a, str) and a for a in answers.values())
