"""Stacking end to end: two tiny run_classifier_cv.py models -> their test features ->
scripts/run_bayesopt.py -> scripts/run_lgb.py; and the errors users meet."""
import json
import os
import sys

import numpy as np
import pytest
import torch

from tests.finetune_fixtures import run_script, write_classification, write_common
from uer.finetune import stacking
from uer.utils.errors import UserInputError

pytest.importorskip("lightgbm")
pytest.importorskip("bayes_opt")

# The original bounds suit large data; on 160 examples they forbid most splits.
SMALL_BOUNDS = ["min_sum_hessian_in_leaf=0:1", "lambda_l1=0:1", "min_data_in_leaf=2:20", "feature_fraction=0.3:1"]


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    """Train/test TSVs and the features of two fine-tuned models (different seeds and poolings)."""
    root = tmp_path_factory.mktemp("stacking")
    paths = write_common(str(root))
    paths["train"], paths["test"], paths["test_nolabel"] = (str(root / f"{n}.tsv") for n in
                                                            ("train", "test", "test_nolabel"))
    paths["train_labels"] = write_classification(paths["train"], 160, 1)
    paths["test_labels"] = write_classification(paths["test"], 60, 3)
    write_classification(paths["test_nolabel"], 60, 3, with_labels=False)  # same texts, no label column
    paths["train_features"], paths["test_features"] = [], []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for m, (seed, pooling) in enumerate(((1, "first"), (2, "mean"))):
            model, train_features, test_features = (str(root / name) for name in (
                f"classifier_{m}.bin", f"train_features_{m}.npy", f"test_features_{m}.npy"))
            run_script("run_classifier_cv.py", [
                "--vocab_path", paths["vocab"], "--config_path", paths["config"], "--tokenizer", "char",
                "--train_path", paths["train"], "--train_features_path", train_features, "--output_model_path", model,
                "--folds_num", "2", "--epochs_num", "2", "--batch_size", "16", "--learning_rate", "3e-3",
                "--seq_length", "24", "--seed", seed, "--pooling", pooling, "--device", "cpu"])
            run_script("inference/run_classifier_infer_cv.py", [
                "--load_model_path", model, "--vocab_path", paths["vocab"], "--test_path", paths["test"],
                "--test_features_path", test_features])
            paths["train_features"].append(train_features)
            paths["test_features"].append(test_features)
    finally:
        torch.set_num_threads(threads)
    paths["root"] = str(root)
    return paths


def test_bayesopt_then_lgb_end_to_end(features, tmp_path, capsys):
    oof = [np.load(path) for path in features["train_features"]]
    assert all(a.shape == (160, 2) for a in oof) and not np.allclose(oof[0], oof[1])

    params_path = str(tmp_path / "params.json")
    run_script("scripts/run_bayesopt.py", [
        "--train_path", features["train"], "--train_features_path", *features["train_features"],
        "--params_path", params_path, "--folds_num", "3", "--init_points", "2", "--n_iter", "1",
        "--num_boost_round", "20", "--num_threads", "1", "--bounds", *SMALL_BOUNDS])
    out = capsys.readouterr().out
    assert "best cv macro F1" in out
    with open(params_path, encoding="utf-8") as handle:
        saved = json.load(handle)
    assert saved["num_boost_round"] == 20 and saved["folds_num"] == 3 and saved["labels_num"] == 2
    assert saved["cv_macro_f1"] >= 0.6
    assert saved["params"]["boosting_type"] == "dart" and isinstance(saved["params"]["num_leaves"], int)
    assert 2 <= saved["params"]["min_data_in_leaf"] <= 20

    model_path, prediction_path = str(tmp_path / "lgb.txt"), str(tmp_path / "pred.tsv")
    run_script("scripts/run_lgb.py", [
        "--train_path", features["train"], "--train_features_path", *features["train_features"],
        "--test_path", features["test"], "--test_features_path", *features["test_features"],
        "--params_path", params_path, "--output_model_path", model_path, "--prediction_path", prediction_path,
        "--output_prob", "--num_threads", "1"])
    out = capsys.readouterr().out
    for text in ("Confusion matrix:", "Report precision, recall, and f1:", "Label 0: ", "Label 1: ", "Macro F1: "):
        assert text in out
    line = next(line for line in out.splitlines() if line.startswith("Acc. (Correct/Total)"))
    correct, total = (int(x) for x in line.split()[3].strip("()").split("/"))
    acc = correct / total  # the printed 4 decimals would not match e.g. 59/60 to pytest.approx's 1e-6
    assert acc >= 0.7 and line.split()[2] == f"{acc:.4f}"
    import lightgbm

    booster = lightgbm.Booster(model_file=model_path)
    assert booster.num_trees() == 20 * 2  # the rounds of the parameters file, one tree per class
    with open(prediction_path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert lines[0] == "label\tprob" and len(lines) == 61
    pred = np.array([int(line.split("\t")[0]) for line in lines[1:]])
    assert (pred == np.array(features["test_labels"])).mean() == pytest.approx(acc)


def test_unlabelled_test_file_writes_predictions_with_the_original_prefix_layout(features, tmp_path, capsys):
    prediction_path = str(tmp_path / "pred.tsv")
    prefix = features["root"] + os.sep  # <prefix>train_features_<m>.npy, as UER-py named them
    run_script("scripts/run_lgb.py", [
        "--train_path", features["train"], "--train_features_path", prefix, "--test_path", features["test_nolabel"],
        "--test_features_path", prefix, "--models_num", "2", "--output_model_path", str(tmp_path / "lgb.txt"),
        "--prediction_path", prediction_path, "--num_boost_round", "10", "--min_sum_hessian_in_leaf", "0.01",
        "--lambda_l1", "0", "--num_threads", "1"])
    assert "Macro F1" not in capsys.readouterr().out
    with open(prediction_path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert lines[0] == "label" and len(lines) == 61 and set(lines[1:]) <= {"0", "1"}


def synthetic(tmp_path, rows=(20, 20), test_rows=None, labels=None):
    """A train TSV (labels 0..2) and feature files with the given row counts."""
    labels = labels if labels is not None else [i % 3 for i in range(rows[0])]
    train = str(tmp_path / "train.tsv")
    with open(train, "w", encoding="utf-8") as handle:
        handle.write("label\ttext_a\n" + "".join(f"{y}\tx\n" for y in labels))
    paths = []
    for m, n in enumerate(rows):
        paths.append(str(tmp_path / f"train_features_{m}.npy"))
        np.save(paths[-1], np.full((n, 3), 1 / 3))
    return train, paths


def run_lgb_error(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        run_script("scripts/run_lgb.py", argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_mismatched_row_counts_name_the_files_and_counts(tmp_path, capsys):
    train, paths = synthetic(tmp_path, rows=(20, 19))
    err = run_lgb_error(["--train_path", train, "--train_features_path", *paths,
                         "--output_model_path", str(tmp_path / "m.txt")], capsys)
    assert f"{paths[0]}: 20 rows" in err and f"{paths[1]}: 19 rows" in err

    train, paths = synthetic(tmp_path, rows=(25, 25), labels=[i % 3 for i in range(20)])  # another file's features
    err = run_lgb_error(["--train_path", train, "--train_features_path", *paths], capsys)
    assert f"{train}: 20 data lines" in err and "have 25 rows" in err


@pytest.mark.parametrize("case, message", [
    ("missing_features", "feature file not found"),
    ("missing_train", "task file not found"),
    ("not_npy", "not a .npy array file"),
    ("bad_label", "train.tsv:3: the label must be an integer"),
    ("labels_num", "train.tsv:4: label 2 is outside 0..1"),
    ("models_num", "--models_num is 3 but --train_features_path lists 2 file(s)"),
    ("unlabelled_test", "give --prediction_path"),
    ("test_columns", "has 3 columns but its test counterpart"),
    ("params", 'expected a JSON object with a "params" object'),
])
def test_bad_input_is_one_clear_message(tmp_path, capsys, case, message):
    train, paths = synthetic(tmp_path)
    argv = ["--train_path", train, "--train_features_path", *paths, "--output_model_path", str(tmp_path / "m.txt")]
    if case == "missing_features":
        argv[3] = str(tmp_path / "absent.npy")
    elif case == "missing_train":
        argv[1] = str(tmp_path / "absent.tsv")
    elif case == "not_npy":
        with open(paths[1], "w", encoding="utf-8") as handle:
            handle.write("0.1 0.9\n")
    elif case == "bad_label":
        with open(train, "w", encoding="utf-8") as handle:
            handle.write("label\ttext_a\n0\tx\nyes\tx\n")
    elif case == "labels_num":
        argv += ["--labels_num", "2"]
    elif case == "models_num":
        argv += ["--models_num", "3"]
    elif case in ("unlabelled_test", "test_columns"):
        test = str(tmp_path / "test.tsv")
        with open(test, "w", encoding="utf-8") as handle:
            handle.write("text_a\n" + "x\n" * 5)
        test_features = [str(tmp_path / f"test_features_{m}.npy") for m in range(2)]
        for m, path in enumerate(test_features):
            np.save(path, np.full((5, 3 if case == "unlabelled_test" or m == 0 else 2), 0.5))
        argv += ["--test_path", test, "--test_features_path", *test_features]
    elif case == "params":
        params = str(tmp_path / "params.json")
        with open(params, "w", encoding="utf-8") as handle:
            handle.write('{"num_leaves": 3}')
        argv += ["--params_path", params]
    assert message in run_lgb_error(argv, capsys)


def test_bayesopt_bad_bounds_and_folds(tmp_path, capsys):
    train, paths = synthetic(tmp_path)
    base = ["--train_path", train, "--train_features_path", *paths, "--params_path", str(tmp_path / "p.json")]
    for extra, message in ((["--bounds", "num_leaves=9"], "expected NAME=LOW:HIGH"),
                           (["--bounds", "depth=1:2"], "unknown parameter 'depth'"),
                           (["--folds_num", "50"], "--folds_num must be between 2 and the number of examples (20)")):
        with pytest.raises(SystemExit):
            run_script("scripts/run_bayesopt.py", base + extra)
        assert message in capsys.readouterr().err
    assert not os.path.exists(str(tmp_path / "p.json"))


@pytest.mark.parametrize("module, importer", [("lightgbm", stacking.import_lightgbm),
                                              ("bayes_opt", stacking.import_bayes_opt)])
def test_missing_optional_dependency_says_how_to_install(monkeypatch, module, importer):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(UserInputError, match=r"pip install uer\[stacking\]"):
        importer()


def test_classes_come_from_the_labels_not_a_constant(tmp_path):
    train, _ = synthetic(tmp_path, labels=[0, 3, 1, 3])
    labels, rows = stacking.read_labels(train)
    assert rows == 4 and stacking.resolve_labels_num(labels, None, train) == 4
    assert stacking.resolve_labels_num(labels, 6, train) == 6
    with pytest.raises(UserInputError, match="label 3 is outside 0..2"):
        stacking.read_labels(train, 3)
