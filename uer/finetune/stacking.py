"""Stacking: a LightGBM model over the out-of-fold class probabilities of several
run_classifier_cv.py models (scripts/run_lgb.py), and Bayesian optimisation of its
hyper-parameters by cross-validated macro F1 (scripts/run_bayesopt.py).

Features: every file is an ``np.save`` float array ``[N x labels_num]`` in the rows' file order
(``--train_features_path`` of run_classifier_cv.py, ``--test_features_path`` of
inference/run_classifier_infer_cv.py); several models' files are concatenated column-wise.
The parameters file written by run_bayesopt.py and read by run_lgb.py is a JSON object
``{"params": {LightGBM parameters}, "num_boost_round": int, "cv_macro_f1": float, ...}``.
lightgbm and bayes_opt are optional (``pip install uer[stacking]``) and imported on use.
"""
import json
import math
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from uer.finetune.metrics import accuracy, classification_report, confusion_matrix, macro_f1
from uer.finetune.tsv import parse_label, read_json_file, read_tsv
from uer.utils.errors import UserInputError
from uer.utils.textfile import atomic_write, require_file

INSTALL_HINT = "pip install uer[stacking]"

# Set by us whatever the parameters file or flags say: the task is multi-class over the labels.
FIXED_PARAMS: Dict[str, Any] = {"objective": "multiclass", "metric": "multi_error", "verbose": -1,
                                "deterministic": True}
# The original run_lgb.py's parameters: what run_lgb.py trains with when no --params_path is given.
DEFAULT_PARAMS: Dict[str, Any] = {
    "boosting_type": "dart", "feature_fraction": 0.3729, "lambda_l1": 9.874, "lambda_l2": 0.1256,
    "learning_rate": 0.04013, "max_depth": 186, "min_data_in_leaf": 8, "min_gain_to_split": 0.7786,
    "min_sum_hessian_in_leaf": 8.761, "num_leaves": 89, "seed": 7,
}
DEFAULT_BOOST_ROUNDS = 120
# Fixed during the search (the original run_bayesopt.py's); written to the parameters file with the rest.
SEARCH_FIXED_PARAMS: Dict[str, Any] = {"max_bin": 63, "bagging_fraction": 0.4, "bagging_freq": 5}
SEARCH_BOOST_ROUNDS = 150
# name: (low, high, type); integer parameters are searched as floats and rounded.
SEARCH_SPACE: Dict[str, Tuple[float, float, type]] = {
    "num_leaves": (20, 90, int), "min_data_in_leaf": (5, 100, int), "learning_rate": (0.005, 0.5, float),
    "min_sum_hessian_in_leaf": (1e-5, 20, float), "feature_fraction": (0.001, 0.5, float),
    "lambda_l1": (0, 10, float), "lambda_l2": (0, 10, float), "min_gain_to_split": (0, 1, float),
    "max_depth": (3, 200, int),
}
# Parameters that run_lgb.py accepts as flags (they override the parameters file); name: type.
PARAM_FLAGS: Dict[str, type] = {
    "boosting_type": str, "num_leaves": int, "max_depth": int, "min_data_in_leaf": int, "learning_rate": float,
    "feature_fraction": float, "lambda_l1": float, "lambda_l2": float, "min_gain_to_split": float,
    "min_sum_hessian_in_leaf": float, "bagging_fraction": float, "bagging_freq": int, "max_bin": int,
    "seed": int, "num_threads": int,
}


def import_lightgbm():
    try:
        import lightgbm
    except ImportError:
        raise UserInputError(f"LightGBM is not installed; run: {INSTALL_HINT}") from None
    return lightgbm


def import_bayes_opt():
    try:
        import bayes_opt
    except ImportError:
        raise UserInputError(f"bayesian-optimization (bayes_opt) is not installed; run: {INSTALL_HINT}") from None
    return bayes_opt


def feature_paths(paths: Sequence[str], models_num: Optional[int], kind: str, flag: str) -> List[str]:
    """The feature files of ``--<kind>_features_path``: the files listed, or, as in the original
    UER-py, one prefix expanded to ``<prefix><kind>_features_<m>.npy`` for m < ``models_num``."""
    paths = list(paths)
    if len(paths) == 1 and models_num is not None and not os.path.isfile(paths[0]):
        return [f"{paths[0]}{kind}_features_{m}.npy" for m in range(models_num)]
    if models_num is not None and models_num != len(paths):
        raise UserInputError(f"--models_num is {models_num} but {flag} lists {len(paths)} file(s)")
    return paths


def load_feature_file(path: str) -> np.ndarray:
    """One ``np.save`` array ``[N x columns]`` of finite numbers, as float64."""
    require_file(path, "feature file")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise UserInputError(f"not a .npy array file written by np.save ({error})", path=path) from None
    if not isinstance(array, np.ndarray) or array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        shape = getattr(array, "shape", None)
        raise UserInputError(f"expected a 2-D numeric array [examples x classes], found shape {shape}", path=path)
    if not np.isfinite(array).all():
        raise UserInputError("the features contain NaN or infinite values", path=path)
    return array.astype(np.float64, copy=False)


def load_features(paths: Sequence[str], flag: str) -> Tuple[np.ndarray, List[int]]:
    """Concatenate the feature files column-wise -> (``[N x sum(columns)]``, columns per file).
    Every file must have the same number of rows (the same examples, in the same order)."""
    if not paths:
        raise UserInputError(f"{flag}: no feature files given")
    arrays = [load_feature_file(path) for path in paths]
    rows = [a.shape[0] for a in arrays]
    if len(set(rows)) > 1:
        counts = ", ".join(f"{path}: {n} rows" for path, n in zip(paths, rows))
        raise UserInputError(f"{flag}: the feature files must have the same number of rows, found {counts}")
    return np.concatenate(arrays, axis=1), [a.shape[1] for a in arrays]


def check_rows(features: np.ndarray, paths: Sequence[str], rows: int, tsv_path: str) -> None:
    if features.shape[0] != rows:
        raise UserInputError(f"{rows} data lines, but the feature file(s) {', '.join(paths)} have "
                             f"{features.shape[0]} rows: features must come from this very file, in its order",
                             path=tsv_path)


def check_columns(train_paths: Sequence[str], train_columns: Sequence[int], test_paths: Sequence[str],
                  test_columns: Sequence[int]) -> None:
    """Train and test features must describe the same models in the same order."""
    if len(train_paths) != len(test_paths):
        raise UserInputError(f"{len(train_paths)} train feature file(s) but {len(test_paths)} test feature file(s): "
                             "give one test file per model, in the same order")
    for train, a, test, b in zip(train_paths, train_columns, test_paths, test_columns):
        if a != b:
            raise UserInputError(f"{train} has {a} columns but its test counterpart {test} has {b}")


def read_labels(path: str, labels_num: Optional[int] = None,
                required: bool = True) -> Tuple[Optional[np.ndarray], int]:
    """(the ``label`` column as int64, or None when absent and not ``required``; the number of data lines)."""
    columns, rows = read_tsv(path, ["label"] if required else [], optional=() if required else ("label",))
    labels, count = [], 0
    for row in rows:
        count += 1
        if "label" in columns:
            labels.append(parse_label(row, "label", labels_num))
    if not count:
        raise UserInputError("no examples: the file has a header but no data lines", path=path)
    return (np.asarray(labels, dtype=np.int64) if "label" in columns else None), count


def resolve_labels_num(labels: np.ndarray, labels_num: Optional[int], path: str) -> int:
    """Classes = max label + 1, or ``labels_num`` when given (labels above it were already refused)."""
    found = int(labels.max()) + 1
    if labels_num is None:
        if found < 2:
            raise UserInputError("every label is 0: a classifier needs at least two classes", path=path)
        return found
    if labels_num < 2:
        raise UserInputError(f"--labels_num must be at least 2, got {labels_num}")
    return labels_num


def add_training_set_args(parser: Any) -> None:
    """The flags naming the stacking training set, shared by run_lgb.py and run_bayesopt.py."""
    parser.add_argument("--train_path", required=True, help="Train TSV with a label column.")
    parser.add_argument("--train_features_path", required=True, nargs="+",
                        help="Out-of-fold probabilities (.npy) of each model, from run_classifier_cv.py.")
    parser.add_argument("--models_num", type=int, default=None,
                        help="Number of models (checks the lists; expands a single prefix as UER-py did).")
    parser.add_argument("--labels_num", type=int, default=None, help="Number of classes (default: max label + 1).")


def load_training_set(args: Any) -> Tuple[List[str], np.ndarray, List[int], np.ndarray, int]:
    """From the flags of :func:`add_training_set_args`: (feature paths, features, columns per file,
    labels, number of classes), with the rows of features and labels checked to match."""
    paths = feature_paths(args.train_features_path, args.models_num, "train", "--train_features_path")
    features, columns = load_features(paths, "--train_features_path")
    labels, rows = read_labels(args.train_path, args.labels_num)
    check_rows(features, paths, rows, args.train_path)
    return paths, features, columns, labels, resolve_labels_num(labels, args.labels_num, args.train_path)


def read_params_file(path: str) -> Tuple[Dict[str, Any], Optional[int]]:
    """(LightGBM parameters, num_boost_round or None) from a run_bayesopt.py parameters file."""
    data = read_json_file(path)
    if not isinstance(data, dict) or not isinstance(data.get("params"), dict):
        raise UserInputError('expected a JSON object with a "params" object (written by scripts/run_bayesopt.py)',
                             path=path)
    for key, value in data["params"].items():
        if not isinstance(value, (int, float, str, bool)):
            raise UserInputError(f'params: "{key}" must be a number, a string or a boolean, got {value!r}', path=path)
    rounds = data.get("num_boost_round")
    if rounds is not None and (not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 1):
        raise UserInputError(f'"num_boost_round" must be a positive integer, got {rounds!r}', path=path)
    return dict(data["params"]), rounds


def write_params_file(path: str, params: Dict[str, Any], num_boost_round: int, **info: Any) -> None:
    with atomic_write(path) as handle:
        json.dump({"params": params, "num_boost_round": num_boost_round, **info}, handle, indent=2, sort_keys=True)
        handle.write("\n")


def lgb_params(params: Dict[str, Any], labels_num: int) -> Dict[str, Any]:
    """The full parameter dict LightGBM receives."""
    return {**params, **FIXED_PARAMS, "num_class": labels_num}


def train_booster(features: np.ndarray, labels: np.ndarray, params: Dict[str, Any], labels_num: int,
                  num_boost_round: int):
    """A LightGBM multi-class booster; parameters LightGBM rejects are the user's error."""
    lgb = import_lightgbm()
    if num_boost_round < 1:
        raise UserInputError(f"--num_boost_round must be at least 1, got {num_boost_round}")
    try:
        dataset = lgb.Dataset(features, label=labels, params={"verbose": -1})
        return lgb.train(lgb_params(params, labels_num), dataset, num_boost_round=num_boost_round)
    except lgb.basic.LightGBMError as error:
        raise UserInputError(f"LightGBM refused the parameters {params}: {error}") from None


def predict_proba(booster, features: np.ndarray) -> np.ndarray:
    """``[N x labels_num]`` class probabilities."""
    return np.asarray(booster.predict(features), dtype=np.float64).reshape(features.shape[0], -1)


def save_booster(booster, path: str) -> None:
    with atomic_write(path) as handle:
        handle.write(booster.model_to_string())


def report_lines(probabilities: np.ndarray, gold: np.ndarray, labels_num: int) -> List[str]:
    """The original's printout: confusion matrix (rows = predictions), per-label P/R/F1, macro F1, accuracy."""
    pred = probabilities.argmax(axis=1)
    matrix = confusion_matrix(pred, gold, labels_num)
    acc, correct, total = accuracy(pred, gold)
    return classification_report(matrix) + [f"Macro F1: {macro_f1(matrix):.4f}",
                                            f"Acc. (Correct/Total): {acc:.4f} ({correct}/{total})"]


def cv_folds(n: int, folds_num: int, seed: int) -> List[np.ndarray]:
    """Held-out index sets of ``folds_num`` folds over a seeded permutation (train files are often
    sorted by label, so contiguous folds could hold out one class)."""
    if not 2 <= folds_num <= n:
        raise UserInputError(f"--folds_num must be between 2 and the number of examples ({n}), got {folds_num}")
    return np.array_split(np.random.default_rng(seed).permutation(n), folds_num)


def cv_macro_f1(features: np.ndarray, labels: np.ndarray, params: Dict[str, Any], labels_num: int,
                num_boost_round: int, folds: Sequence[np.ndarray]) -> float:
    """Mean over the folds of the held-out macro F1 of a booster trained on the other folds."""
    scores = []
    for held_out in folds:
        train = np.setdiff1d(np.arange(len(labels)), held_out)
        booster = train_booster(features[train], labels[train], params, labels_num, num_boost_round)
        pred = predict_proba(booster, features[held_out]).argmax(axis=1)
        scores.append(macro_f1(confusion_matrix(pred, labels[held_out], labels_num)))
    return float(np.mean(scores))


def parse_bounds(items: Sequence[str]) -> Dict[str, Tuple[float, float, type]]:
    """:data:`SEARCH_SPACE` with ``NAME=LOW:HIGH`` items replacing bounds (the original bounds suit
    tens of thousands of examples; on small data they can forbid every split)."""
    space = dict(SEARCH_SPACE)
    for item in items:
        name, _, bounds = item.partition("=")
        low, _, high = bounds.partition(":")
        if name not in SEARCH_SPACE:
            raise UserInputError(f"--bounds {item}: unknown parameter {name!r} (searched: {', '.join(SEARCH_SPACE)})")
        try:
            low_value, high_value = float(low), float(high)
        except ValueError:
            raise UserInputError(f"--bounds {item}: expected NAME=LOW:HIGH with two numbers") from None
        if not low_value < high_value:
            raise UserInputError(f"--bounds {item}: LOW must be below HIGH")
        space[name] = (low_value, high_value, SEARCH_SPACE[name][2])
    return space


def search_point(point: Dict[str, float], space: Dict[str, Tuple[float, float, type]]) -> Dict[str, Any]:
    """A bayes_opt point (floats) -> LightGBM values (integers rounded, plain Python numbers)."""
    return {name: int(round(value)) if space[name][2] is int else float(value) for name, value in point.items()}


def bayes_search(features: np.ndarray, labels: np.ndarray, labels_num: int, base_params: Dict[str, Any],
                 num_boost_round: int, folds_num: int, seed: int, init_points: int, n_iter: int,
                 space: Optional[Dict[str, Tuple[float, float, type]]] = None,
                 on_result: Optional[Callable[[int, float, Dict[str, Any]], None]] = None
                 ) -> Tuple[Dict[str, Any], float]:
    """Maximise cross-validated macro F1 over ``space`` (default :data:`SEARCH_SPACE`) -> (best full
    params, best score).

    ``base_params`` hold the parameters not searched; the folds are the same for every point so
    that scores compare. ``on_result(i, score, point)`` is called after each evaluation.
    """
    bayes_opt = import_bayes_opt()
    if init_points < 1 or n_iter < 0:
        raise UserInputError(f"--init_points must be >= 1 and --n_iter >= 0, got {init_points} and {n_iter}")
    space = space or SEARCH_SPACE
    folds = cv_folds(len(labels), folds_num, seed)
    evaluated = []

    def objective(**point: float) -> float:
        values = search_point(point, space)
        score = cv_macro_f1(features, labels, {**base_params, **values}, labels_num, num_boost_round, folds)
        evaluated.append(score)
        if on_result is not None:
            on_result(len(evaluated), score, values)
        return score

    bounds = {name: (float(low), float(high)) for name, (low, high, _) in space.items()}
    optimizer = bayes_opt.BayesianOptimization(f=objective, pbounds=bounds, random_state=seed, verbose=0)
    optimizer.maximize(init_points=init_points, n_iter=n_iter)
    best = optimizer.max
    score = float(best["target"])
    if not math.isfinite(score):
        raise UserInputError("the search found no finite score")
    return {**base_params, **search_point(best["params"], space)}, score
