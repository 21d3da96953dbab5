"""run_mt_classifier.py and run_dbqa.py end to end on tiny models."""
import json
import random

import pytest

from tests.finetune_fixtures import run_script, sentence, write_classification, write_common
from uer.model_loader import load_state_dict_file

pytestmark = pytest.mark.usefixtures("one_thread")


def logged(caplog):
    return "\n".join(record.getMessage() for record in caplog.records)


def write_three_class_task(path, n, seed):
    """Three classes by the letter group a-h / i-p / q-z, label column last (columns found by name)."""
    rng = random.Random(seed)
    groups = ["abcdefgh", "ijklmnop", "qrstuvwxyz"]
    lines = ["text_a\tlabel"]
    for _ in range(n):
        label = rng.randint(0, 2)
        text = "".join(rng.choice(groups[label]) for _ in range(rng.randint(3, 15)))
        lines.append(f"{text}\t{label}")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def test_multi_task_shares_an_encoder_and_reports_each_dev_set(tmp_path, caplog):
    paths = write_common(str(tmp_path))
    first, second = tmp_path / "sentiment", tmp_path / "letters"
    first.mkdir()
    second.mkdir()
    write_classification(str(first / "train.tsv"), 300, 1)
    write_classification(str(first / "dev.tsv"), 60, 2)
    write_three_class_task(str(second / "train.tsv"), 300, 3)
    write_three_class_task(str(second / "dev.tsv"), 60, 4)
    model = str(tmp_path / "mt.bin")
    run_script("run_mt_classifier.py", ["--vocab_path", paths["vocab"], "--config_path", paths["config"],
               "--tokenizer", "char", "--dataset_path_list", str(first), str(second), "--output_model_path", model,
               "--epochs_num", "4", "--batch_size", "16", "--learning_rate", "1e-3", "--seq_length", "32",
               "--pooling", "mean", "--device", "cpu"])
    text = logged(caplog)
    accuracies = [float(line.split()[2]) for line in text.splitlines() if line.startswith("Acc. (Correct/Total)")]
    assert len(accuracies) == 8 and text.count("Dataset ") == 8
    assert max(accuracies[0::2]) >= 0.8 and max(accuracies[1::2]) >= 0.6
    state = load_state_dict_file(model)
    assert state["output_layers_2.0.weight"].shape == (2, 32) and state["output_layers_2.1.weight"].shape == (3, 32)
    assert {"output_layers_1.0.weight", "output_layers_1.1.bias", "embedding.word_embedding.weight"} <= set(state)
    assert json.loads(open(model + ".config.json").read())["labels_nums"] == [2, 3]


def write_dbqa(path, questions, seed, shuffle_ids=False):
    """Four candidates per question; the answer is drawn from the first half of the alphabet."""
    rng = random.Random(seed)
    lines = ["qid\ttext_a\ttext_b\tlabel"]
    for qid in range(questions):
        answer = rng.randrange(4)
        for candidate in range(4):
            label = int(candidate == answer)
            lines.append(f"{qid}\t{sentence(rng, rng.randint(0, 1))}\t{sentence(rng, label)}\t{label}")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def test_dbqa_ranks_candidates_by_mrr(tmp_path, caplog):
    paths = write_common(str(tmp_path))
    for name, questions, seed in (("train", 100, 1), ("dev", 25, 2), ("test", 25, 3)):
        write_dbqa(str(tmp_path / f"{name}.tsv"), questions, seed)
    run_script("run_dbqa.py", ["--vocab_path", paths["vocab"], "--config_path", paths["config"], "--tokenizer", "char",
               "--train_path", str(tmp_path / "train.tsv"), "--dev_path", str(tmp_path / "dev.tsv"),
               "--test_path", str(tmp_path / "test.tsv"), "--output_model_path", str(tmp_path / "dbqa.bin"),
               "--epochs_num", "3", "--batch_size", "16", "--learning_rate", "1e-3", "--seq_length", "48",
               "--device", "cpu"])
    mrr = [float(line.split(": ")[1]) for line in logged(caplog).splitlines() if line.startswith("Mean Reciprocal Rank")]
    assert len(mrr) == 4 and mrr[-1] >= 0.8  # chance is about 0.52


def test_dbqa_questions_must_be_contiguous(tmp_path, capsys):
    paths = write_common(str(tmp_path))
    write_dbqa(str(tmp_path / "dev.tsv"), 3, 2)
    with open(tmp_path / "train.tsv", "w", encoding="utf-8") as handle:
        handle.write("qid\ttext_a\ttext_b\tlabel\n1\tab\tcd\t1\n2\tab\tcd\t0\n1\tab\tef\t0\n")
    with pytest.raises(SystemExit):
        run_script("run_dbqa.py", ["--vocab_path", paths["vocab"], "--config_path", paths["config"], "--tokenizer",
                   "char", "--train_path", str(tmp_path / "train.tsv"), "--dev_path", str(tmp_path / "dev.tsv"),
                   "--seq_length", "48", "--device", "cpu"])
    assert "train.tsv:4: the lines of question '1' are not consecutive" in capsys.readouterr().err


@pytest.mark.parametrize("teacher, expect_good", [("agrees", True), ("inverted", False)])
def test_dbqa_soft_targets_distil_from_the_teacher_logits(tmp_path, caplog, teacher, expect_good):
    """--soft_targets --soft_alpha as in run_classifier.py: with soft_alpha 1 the loss is the MSE to
    the teacher's logits alone, so a teacher that inverts the labels teaches the inverse ranking."""
    paths = write_common(str(tmp_path))
    for name, questions, seed in (("train", 100, 1), ("dev", 25, 2)):
        write_dbqa(str(tmp_path / f"{name}.tsv"), questions, seed)
    lines = (tmp_path / "train.tsv").read_text(encoding="utf-8").splitlines()
    sign = 1 if teacher == "agrees" else -1
    rows = [lines[0] + "\tlogits"] + [f"{line}\t{-3 * sign * (2 * int(line[-1]) - 1)} {3 * sign * (2 * int(line[-1]) - 1)}"
                                      for line in lines[1:]]
    (tmp_path / "train.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    run_script("run_dbqa.py", ["--vocab_path", paths["vocab"], "--config_path", paths["config"], "--tokenizer", "char",
               "--train_path", str(tmp_path / "train.tsv"), "--dev_path", str(tmp_path / "dev.tsv"),
               "--output_model_path", str(tmp_path / "dbqa.bin"), "--soft_targets", "--soft_alpha", "1.0",
               "--epochs_num", "3", "--batch_size", "16", "--learning_rate", "1e-3", "--seq_length", "48",
               "--device", "cpu"])
    mrr = [float(line.split(": ")[1]) for line in logged(caplog).splitlines() if line.startswith("Mean Reciprocal Rank")]
    assert (mrr[-1] >= 0.8) if expect_good else (max(mrr) < 0.5), mrr  # chance is about 0.52
