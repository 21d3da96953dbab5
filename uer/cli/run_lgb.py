"""Stacking: LightGBM over the out-of-fold class probabilities of several run_classifier_cv.py models.

    python scripts/run_lgb.py --train_path datasets/douban_book_review/train.tsv \
        --train_features_path features/train_features_0.npy features/train_features_1.npy \
        --test_path datasets/douban_book_review/test.tsv \
        --test_features_path features/test_features_0.npy features/test_features_1.npy \
        --params_path models/lgb_params.json --output_model_path models/lgb_model.txt

The feature files (one per model, concatenated column-wise) hold the rows of --train_path /
--test_path in file order; as in UER-py, one prefix with --models_num M stands for
<prefix>train_features_<m>.npy (and test_features_<m>.npy), m < M. Labels come from the train
file's label column; the classes are max label + 1 unless --labels_num says more. Parameters:
the original run_lgb.py's < --params_path (from scripts/run_bayesopt.py) < the flags typed. With a
labelled test file the confusion matrix, per-label precision/recall/F1, macro F1 and accuracy are
printed; predictions are written to --prediction_path (needed when the test file has no labels).
"""
import argparse
import logging
from typing import List, Optional

from uer.finetune.classification import format_floats
from uer.finetune.stacking import (DEFAULT_BOOST_ROUNDS, DEFAULT_PARAMS, PARAM_FLAGS, add_training_set_args,
                                   check_columns, check_rows, feature_paths, import_lightgbm, load_features,
                                   load_training_set, predict_proba, read_labels, read_params_file, report_lines,
                                   save_booster, train_booster)
from uer.utils.cli import script_parser
from uer.utils.errors import UserInputError, cli_main
from uer.utils.textfile import atomic_write

logger = logging.getLogger("run_lgb")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    add_training_set_args(parser)
    parser.add_argument("--test_path", default=None, help="Test TSV (a label column makes it an evaluation).")
    parser.add_argument("--test_features_path", nargs="+", default=None,
                        help="Test probabilities (.npy) of each model, same order, from run_classifier_infer_cv.py.")
    parser.add_argument("--params_path", default=None, help="Parameters JSON written by scripts/run_bayesopt.py.")
    parser.add_argument("--output_model_path", default="models/lgb_model.txt", help="The LightGBM booster (text).")
    parser.add_argument("--prediction_path", default=None, help="Predicted test labels (TSV with a label column).")
    parser.add_argument("--output_prob", action="store_true", help="Add a prob column to the predictions.")
    group = parser.add_argument_group("LightGBM parameters (override --params_path)")
    group.add_argument("--num_boost_round", type=int, default=None, help=f"default: {DEFAULT_BOOST_ROUNDS}")
    for name, kind in PARAM_FLAGS.items():
        group.add_argument(f"--{name}", type=kind, default=None,
                           help=f"default: {DEFAULT_PARAMS[name]}" if name in DEFAULT_PARAMS else "LightGBM's default")
    return parser


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = build_parser().parse_args(argv)
    import_lightgbm()  # before any work: a missing extra is reported first
    if (args.test_path is None) != (args.test_features_path is None):
        raise UserInputError("give --test_path and --test_features_path together")

    params, rounds = dict(DEFAULT_PARAMS), DEFAULT_BOOST_ROUNDS
    if args.params_path:
        saved, saved_rounds = read_params_file(args.params_path)
        params.update(saved)
        rounds = saved_rounds or rounds
    params.update({name: getattr(args, name) for name in PARAM_FLAGS if getattr(args, name) is not None})
    rounds = args.num_boost_round or rounds

    train_paths, train_x, train_columns, train_y, labels_num = load_training_set(args)

    if args.test_path is not None:
        test_paths = feature_paths(args.test_features_path, args.models_num, "test", "--test_features_path")
        test_x, test_columns = load_features(test_paths, "--test_features_path")
        check_columns(train_paths, train_columns, test_paths, test_columns)
        test_y, test_rows = read_labels(args.test_path, labels_num, required=False)
        check_rows(test_x, test_paths, test_rows, args.test_path)
        if test_y is None and args.prediction_path is None:
            raise UserInputError("the test file has no label column: give --prediction_path for the predictions",
                                 path=args.test_path)

    logger.info("Training LightGBM on %d examples x %d features, %d classes, %d rounds: %s", *train_x.shape,
                labels_num, rounds, params)
    booster = train_booster(train_x, train_y, params, labels_num, rounds)
    save_booster(booster, args.output_model_path)
    logger.info("Booster saved to %s", args.output_model_path)

    if args.test_path is None:
        return
    probabilities = predict_proba(booster, test_x)
    if test_y is not None:
        print("\n".join(report_lines(probabilities, test_y, labels_num)))
    if args.prediction_path:
        lines = ["label" + ("\tprob" if args.output_prob else "")]
        lines += [str(int(row.argmax())) + ("\t" + format_floats(row) if args.output_prob else "")
                  for row in probabilities]
        with atomic_write(args.prediction_path) as handle:
            handle.write("\n".join(lines) + "\n")
        logger.info("Predictions saved to %s", args.prediction_path)


if __name__ == "__main__":
    main()
