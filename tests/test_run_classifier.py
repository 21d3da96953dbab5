"""run_classifier.py, run_classifier_cv.py and their inference scripts end to end on tiny models."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import data_file
from tests.finetune_fixtures import REPO, run_script, write_classification, write_common
from uer.model_loader import load_state_dict_file

pytestmark = pytest.mark.usefixtures("one_thread")


def task(tmp_path, pair=False, logits=False):
    paths = write_common(str(tmp_path))
    for name, n, seed in (("train", 400, 1), ("dev", 100, 2), ("test", 100, 3)):
        paths[name] = str(tmp_path / f"{name}.tsv")
        paths[name + "_labels"] = write_classification(paths[name], n, seed, pair=pair, logits=logits)
    paths["model"] = str(tmp_path / "classifier.bin")
    return paths


def train_argv(paths, *extra):
    return ["--vocab_path", paths["vocab"], "--config_path", paths["config"], "--tokenizer", "char",
            "--train_path", paths["train"], "--dev_path", paths["dev"], "--output_model_path", paths["model"],
            "--epochs_num", "3", "--batch_size", "16", "--learning_rate", "1e-3", "--seq_length", "48",
            "--report_steps", "10", "--device", "cpu", *extra]


def logged(caplog):
    """The plain text of the log lines (the scripts report through logging)."""
    return "\n".join(record.getMessage() for record in caplog.records)


def accuracy_lines(text):
    return [float(line.split()[2]) for line in text.splitlines() if line.startswith("Acc. (Correct/Total)")]


def read_predictions(path):
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


def test_train_evaluate_then_predict_from_the_sidecar_alone(tmp_path, caplog):
    paths = task(tmp_path)
    run_script("run_classifier.py", train_argv(paths, "--test_path", paths["test"]))
    err = logged(caplog)
    assert "Epoch id: 1, Training steps: 10, Avg loss:" in err
    assert "Confusion matrix:" in err and "Report precision, recall, and f1:" in err and "Label 1: " in err
    dev_and_test = accuracy_lines(err)
    assert len(dev_and_test) == 4 and dev_and_test[-1] >= 0.8  # 3 dev epochs, then the test set

    state = load_state_dict_file(paths["model"])
    assert {"output_layer_1.weight", "output_layer_1.bias", "output_layer_2.weight", "output_layer_2.bias",
            "embedding.word_embedding.weight", "encoder.transformer.0.self_attn.linear_layers.0.weight"} <= set(state)
    assert state["output_layer_2.weight"].shape == (2, 32)
    sidecar = json.loads(open(paths["model"] + ".config.json").read())
    assert (sidecar["labels_num"], sidecar["pooling"], sidecar["seq_length"], sidecar["tokenizer"]) == (2, "first", 48, "char")

    prediction = str(tmp_path / "prediction.tsv")
    run_script("inference/run_classifier_infer.py", ["--load_model_path", paths["model"], "--vocab_path", paths["vocab"],
               "--test_path", paths["test"], "--prediction_path", prediction, "--output_logits", "--output_prob"])
    header, rows = read_predictions(prediction)
    assert header == ["label", "logits", "prob"] and len(rows) == 100
    probs = np.array([[float(x) for x in row[2].split(" ")] for row in rows])
    assert probs.shape == (100, 2) and np.allclose(probs.sum(1), 1.0, atol=1e-4)
    assert all(len(row[1].split(" ")) == 2 for row in rows)
    predicted = np.array([int(row[0]) for row in rows])
    assert (predicted == probs.argmax(1)).all()
    assert (predicted == np.array(paths["test_labels"])).mean() >= 0.8


def test_sentence_pairs_with_soft_targets_and_mean_pooling(tmp_path, caplog):
    paths = task(tmp_path, pair=True, logits=True)
    run_script("run_classifier.py", train_argv(paths, "--soft_targets", "--soft_alpha", "0.3", "--pooling", "mean",
                                               "--epochs_num", "6"))
    assert max(accuracy_lines(logged(caplog))) >= 0.7
    prediction = str(tmp_path / "prediction.tsv")
    run_script("inference/run_classifier_infer.py", ["--load_model_path", paths["model"], "--vocab_path", paths["vocab"],
               "--test_path", paths["test"], "--prediction_path", prediction, "--batch_size", "7"])
    header, rows = read_predictions(prediction)
    assert header == ["label"] and len(rows) == 100 and {row[0] for row in rows} <= {"0", "1"}


@pytest.mark.parametrize("precision", ["--bf16", "--fp16"])
def test_mixed_precision_training_and_prediction(tmp_path, caplog, precision):
    paths = task(tmp_path)
    run_script("run_classifier.py", train_argv(paths, precision, "--epochs_num", "2"))
    assert max(accuracy_lines(logged(caplog))) >= 0.8
    prediction = str(tmp_path / "prediction.tsv")
    run_script("inference/run_classifier_infer.py", ["--load_model_path", paths["model"], "--vocab_path", paths["vocab"],
               "--test_path", paths["test"], "--prediction_path", prediction, precision])
    header, rows = read_predictions(prediction)
    assert len(rows) == 100 and (np.array([int(r[0]) for r in rows]) == np.array(paths["test_labels"])).mean() >= 0.8


def test_cross_validation_features_and_fold_averaged_test_features(tmp_path, caplog):
    paths = task(tmp_path)
    features = str(tmp_path / "train_features.npy")
    run_script("run_classifier_cv.py", ["--vocab_path", paths["vocab"], "--config_path", paths["config"],
               "--tokenizer", "char", "--train_path", paths["train"], "--train_features_path", features,
               "--output_model_path", paths["model"], "--folds_num", "3", "--epochs_num", "3", "--batch_size", "16",
               "--learning_rate", "1e-3", "--seq_length", "48", "--device", "cpu"])
    err = logged(caplog)
    assert "Acc. : " in err and "Macro F1 : " in err
    for k in range(3):
        assert os.path.exists(str(tmp_path / f"classifier-fold_{k}.bin"))
        assert os.path.exists(str(tmp_path / f"classifier-fold_{k}.bin.config.json"))
    oof = np.load(features)
    assert oof.shape == (400, 2) and oof.dtype == np.float64 and np.allclose(oof.sum(1), 1.0)
    assert (oof.argmax(1) == np.array(paths["train_labels"])).mean() >= 0.75

    test_features = str(tmp_path / "test_features.npy")
    run_script("inference/run_classifier_infer_cv.py", ["--load_model_path", paths["model"], "--vocab_path",
               paths["vocab"], "--test_path", paths["test"], "--test_features_path", test_features])
    averaged = np.load(test_features)  # --folds_num 3 comes from the fold models' sidecar
    assert averaged.shape == (100, 2) and np.allclose(averaged.sum(1), 1.0)
    assert (averaged.argmax(1) == np.array(paths["test_labels"])).mean() >= 0.75


@pytest.mark.parametrize("which, content, message", [
    ("train", "label\ttext_b\n1\tabc\n", "lacks the column(s) text_a"),
    ("train", "", "the file is empty"),
    ("train", "label\ttext_a\n", "no examples"),
    ("train", "label\ttext_a\n1\tabc\nx\tabc\n", "train.tsv:3: the label must be an integer"),
    ("train", "label\ttext_a\n0\tabc\n2\tabc\n", "train.tsv:3: label 2 is outside 0..1"),
    ("dev", "label\ttext_a\n1\tabc\n5\tabc\n", "dev.tsv:3: label 5 is outside 0..1"),
    ("dev", "label\ttext_a\n1\tabc\n0\n", "dev.tsv:3: expected at least 2 tab-separated fields"),
])
def test_bad_input_stops_with_file_line_and_reason(tmp_path, capsys, which, content, message):
    paths = task(tmp_path)
    with open(paths[which], "w", encoding="utf-8") as handle:
        handle.write(content)
    with pytest.raises(SystemExit) as stop:
        run_script("run_classifier.py", train_argv(paths))
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_soft_targets_need_a_logits_column(tmp_path, capsys):
    paths = task(tmp_path)
    with pytest.raises(SystemExit):
        run_script("run_classifier.py", train_argv(paths, "--soft_targets"))
    assert "lacks the column(s) logits" in capsys.readouterr().err


def test_predicting_with_an_untrained_head_is_an_error(tmp_path, capsys):
    from uer.model_builder import build_model, model_args
    from uer.model_saver import save_model
    from tests.finetune_fixtures import TINY

    paths = write_common(str(tmp_path))
    args = model_args({**TINY, "target": "mlm"})
    pretrained = str(tmp_path / "pretrained.bin")
    save_model(build_model(args, 31), pretrained, args)
    write_classification(str(tmp_path / "test.tsv"), 5, 0, with_labels=False)
    with pytest.raises(SystemExit):
        run_script("inference/run_classifier_infer.py", ["--load_model_path", pretrained, "--vocab_path", paths["vocab"],
                   "--test_path", str(tmp_path / "test.tsv"), "--prediction_path", str(tmp_path / "p.tsv"),
                   "--labels_num", "2", "--tokenizer", "char", "--seq_length", "32"])
    err = capsys.readouterr().err
    assert "no trained task head" in err and "output_layer_1" in err
    assert not os.path.exists(tmp_path / "p.tsv")


def test_fine_tuning_reports_loaded_missing_and_unused_keys(tmp_path, caplog):
    from uer.model_builder import build_model, model_args
    from uer.model_saver import save_model
    from tests.finetune_fixtures import TINY

    paths = task(tmp_path)
    args = model_args({**TINY, "target": "bert"})
    pretrained = str(tmp_path / "pretrained.bin")
    save_model(build_model(args, 31), pretrained, args)
    run_script("run_classifier.py", train_argv(paths, "--pretrained_model_path", pretrained, "--epochs_num", "1"))
    err = logged(caplog)
    reports = [line for line in err.splitlines() if line.startswith(f"{pretrained}: loaded")]
    assert len(reports) == 1, reports  # logged once
    report = reports[0]
    assert "missing 4 (kept their initialisation): output_layer_1.weight" in report
    assert "unused" in report and "target.mlm_linear_1.weight" in report


def test_command_line_errors_exit_with_status_2(tmp_path):
    paths = task(tmp_path)
    command = [sys.executable, os.path.join(REPO, "run_classifier.py")] + train_argv(paths)
    command[command.index(paths["dev"])] = str(tmp_path / "missing.tsv")
    done = subprocess.run(command, capture_output=True, text=True, cwd=str(tmp_path),
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 2
    assert "error: " in done.stderr and "missing.tsv: task file not found" in done.stderr
    assert "Traceback" not in done.stderr


def test_real_douban_slice_trains_and_predicts(tmp_path, caplog):
    folder = data_file("datasets", "test_data", "douban_test")
    vocab = data_file("models", "google_zh_vocab.txt")
    paths = write_common(str(tmp_path))
    model = str(tmp_path / "douban.bin")
    run_script("run_classifier.py", ["--vocab_path", vocab, "--config_path", paths["config"],
               "--train_path", os.path.join(folder, "train.tsv"), "--dev_path", os.path.join(folder, "dev.tsv"),
               "--test_path", os.path.join(folder, "test.tsv"), "--output_model_path", model, "--epochs_num", "1",
               "--batch_size", "32", "--seq_length", "64", "--device", "cpu"])
    assert len(accuracy_lines(logged(caplog))) == 2
    prediction = str(tmp_path / "prediction.tsv")
    run_script("inference/run_classifier_infer.py", ["--load_model_path", model, "--vocab_path", vocab,
               "--test_path", os.path.join(folder, "test_nolabel.tsv"), "--prediction_path", prediction,
               "--output_prob"])
    header, rows = read_predictions(prediction)
    assert header == ["label", "prob"] and len(rows) == 50


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def test_two_processes_train_with_ddp(tmp_path):
    paths = task(tmp_path)
    command = [sys.executable, os.path.join(REPO, "run_classifier.py")] + train_argv(
        paths, "--test_path", paths["test"], "--world_size", "2", "--backend", "gloo",
        "--master_ip", f"tcp://localhost:{free_port()}", "--epochs_num", "4")
    done = subprocess.run(command, capture_output=True, text=True, cwd=str(tmp_path),
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[rank 0] epoch 1: 13 steps, 416 examples" in done.stderr  # 25 batches shared by 2 processes
    assert "[rank 1] Acc." not in done.stderr  # rank 0 alone evaluates and saves
    assert accuracy_lines(done.stderr.replace("[rank 0] ", ""))[-1] >= 0.7
    assert os.path.exists(paths["model"]) and os.path.exists(paths["model"] + ".config.json")
