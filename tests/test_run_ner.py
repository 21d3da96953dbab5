"""run_ner.py (softmax and CRF) and inference/run_ner_infer.py end to end on tiny models."""
import json
import os

import pytest

from tests.conftest import data_file
from tests.finetune_fixtures import LABEL2ID, run_script, write_common, write_ner
from uer.finetune.metrics import entity_prf
from uer.model_loader import load_state_dict_file

pytestmark = pytest.mark.usefixtures("one_thread")


def logged(caplog):
    return "\n".join(record.getMessage() for record in caplog.records)


def f1_lines(text):
    lines = text.splitlines()
    return [float(lines[i + 1].split(", ")[2]) for i, line in enumerate(lines) if line == "Report precision, recall, and f1:"]


def ner_task(tmp_path):
    paths = write_common(str(tmp_path))
    for name, n, seed in (("train", 300, 1), ("dev", 60, 2), ("test", 60, 3)):
        paths[name] = str(tmp_path / f"{name}.tsv")
        paths[name + "_tags"] = write_ner(paths[name], n, seed)
    paths["test_nolabel"] = str(tmp_path / "test_nolabel.tsv")
    write_ner(paths["test_nolabel"], 60, 3, with_labels=False)
    paths["label2id"] = str(tmp_path / "label2id.json")
    with open(paths["label2id"], "w", encoding="utf-8") as handle:
        json.dump(LABEL2ID, handle)
    paths["model"] = str(tmp_path / "ner.bin")
    return paths


def train_argv(paths, *extra):
    return ["--vocab_path", paths["vocab"], "--config_path", paths["config"], "--train_path", paths["train"],
            "--dev_path", paths["dev"], "--test_path", paths["test"], "--label2id_path", paths["label2id"],
            "--output_model_path", paths["model"], "--epochs_num", "3", "--batch_size", "16",
            "--learning_rate", "3e-3", "--seq_length", "16", "--device", "cpu", *extra]


@pytest.mark.parametrize("crf", [False, True])
def test_train_then_tag_with_the_sidecar_alone(tmp_path, caplog, crf):
    paths = ner_task(tmp_path)
    run_script("run_ner.py", train_argv(paths, *(["--crf_target"] if crf else [])))
    scores = f1_lines(logged(caplog))
    assert len(scores) == 4 and scores[-1] >= 0.7  # 3 dev epochs, then the test set
    state = load_state_dict_file(paths["model"])
    assert state["output_layer.weight"].shape == (len(LABEL2ID) + 1, 32)  # + UER-py's [PAD] row
    assert ("crf.transitions" in state) == crf
    sidecar = json.loads(open(paths["model"] + ".config.json").read())
    assert sidecar["label2id"] == LABEL2ID and sidecar["crf_target"] == crf and sidecar["seq_length"] == 16

    prediction = str(tmp_path / "prediction.tsv")
    run_script("inference/run_ner_infer.py", ["--load_model_path", paths["model"], "--vocab_path", paths["vocab"],
               "--test_path", paths["test_nolabel"], "--prediction_path", prediction])
    lines = open(prediction, encoding="utf-8").read().splitlines()
    assert lines[0] == "pred_label" and len(lines) == 61
    predicted = [line.split(" ") for line in lines[1:]]
    # Sentences longer than --seq_length 16 still get one tag per token (O past the cut).
    assert [len(tags) for tags in predicted] == [len(tags) for tags in paths["test_tags"]]
    assert any(len(tags) > 16 for tags in predicted)
    assert all(tag in LABEL2ID for tags in predicted for tag in tags)
    assert entity_prf(paths["test_tags"], predicted)["f1"] >= 0.6


def test_predicting_with_the_other_head_is_an_error(tmp_path, capsys):
    paths = ner_task(tmp_path)
    run_script("run_ner.py", train_argv(paths, "--epochs_num", "1"))
    with pytest.raises(SystemExit):  # a softmax model asked to run with a CRF lacks crf.*
        run_script("inference/run_ner_infer.py", ["--load_model_path", paths["model"], "--vocab_path", paths["vocab"],
                   "--test_path", paths["test_nolabel"], "--prediction_path", str(tmp_path / "p.tsv"), "--crf_target"])
    assert "no trained task head" in capsys.readouterr().err


@pytest.mark.parametrize("line, message", [
    ("a b c\tO O", "train.tsv:3: 3 tokens but 2 tags"),
    ("a b\tO B-XYZ", "train.tsv:3: tag 'B-XYZ' is not in the label map"),
])
def test_bad_tag_lines_stop_with_file_and_line(tmp_path, capsys, line, message):
    paths = ner_task(tmp_path)
    with open(paths["train"], "w", encoding="utf-8") as handle:
        handle.write(f"text_a\tlabel\nd e\tO O\n{line}\n")
    with pytest.raises(SystemExit) as stop:
        run_script("run_ner.py", train_argv(paths))
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_malformed_label_map_is_reported_with_its_line(tmp_path, capsys):
    paths = ner_task(tmp_path)
    with open(paths["label2id"], "w", encoding="utf-8") as handle:
        handle.write('{"O": 0,\n "B-PER": 1,,\n}')
    with pytest.raises(SystemExit):
        run_script("run_ner.py", train_argv(paths))
    assert "label2id.json:2: malformed JSON" in capsys.readouterr().err


def test_real_msra_slice_trains_and_tags(tmp_path, caplog):
    folder = data_file("datasets", "test_data", "msra_ner_test")
    label2id = data_file("datasets", "msra_ner", "label2id.json")
    vocab = data_file("models", "google_zh_vocab.txt")
    paths = write_common(str(tmp_path))
    model = str(tmp_path / "msra.bin")
    run_script("run_ner.py", ["--vocab_path", vocab, "--config_path", paths["config"], "--crf_target",
               "--train_path", os.path.join(folder, "train.tsv"), "--dev_path", os.path.join(folder, "dev.tsv"),
               "--label2id_path", label2id, "--output_model_path", model, "--epochs_num", "1", "--batch_size", "32",
               "--seq_length", "64", "--device", "cpu"])
    assert len(f1_lines(logged(caplog))) == 1
    prediction = str(tmp_path / "prediction.tsv")
    run_script("inference/run_ner_infer.py", ["--load_model_path", model, "--vocab_path", vocab,
               "--test_path", os.path.join(folder, "test_nolabel.tsv"), "--prediction_path", prediction])
    lines = open(prediction, encoding="utf-8").read().splitlines()
    source = open(os.path.join(folder, "test_nolabel.tsv"), encoding="utf-8").read().splitlines()
    assert lines[0] == "pred_label" and len(lines) == len(source)
    assert [len(a.split(" ")) for a in lines[1:]] == [len(b.split(" ")) for b in source[1:]]


def test_a_dev_metric_stuck_at_zero_still_saves_a_model(tmp_path, caplog):
    paths = ner_task(tmp_path)
    with open(paths["dev"], "w", encoding="utf-8") as handle:  # no entity at all: F1 is 0 whatever happens
        handle.write("text_a\tlabel\nd e f\tO O O\ng h\tO O\n")
    run_script("run_ner.py", train_argv(paths, "--epochs_num", "2"))
    text = logged(caplog)
    assert f1_lines(text)[:2] == [0.0, 0.0] and "epoch 1: best so far (0.0000), model saved" in text
    assert os.path.exists(paths["model"]) and len(f1_lines(text)) == 3  # the test phase ran
