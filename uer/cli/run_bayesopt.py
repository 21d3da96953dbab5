"""Bayesian optimisation of the LightGBM parameters of scripts/run_lgb.py (bayes_opt package),
maximising the cross-validated macro F1 on the out-of-fold features of run_classifier_cv.py models.

    python scripts/run_bayesopt.py --train_path datasets/douban_book_review/train.tsv \
        --train_features_path features/train_features_0.npy features/train_features_1.npy \
        --params_path models/lgb_params.json --folds_num 5 --init_points 5 --n_iter 50

Every point is scored by --folds_num folds over a permutation seeded by --seed (the same folds for
every point). The best parameters (searched and fixed), the rounds and the score are written to
--params_path, which run_lgb.py --params_path reads. --epochs_num is the original name of --n_iter.
"""
import argparse
import logging
from typing import List, Optional

from uer.finetune.stacking import (DEFAULT_PARAMS, SEARCH_BOOST_ROUNDS, SEARCH_FIXED_PARAMS, SEARCH_SPACE,
                                   add_training_set_args, bayes_search, import_bayes_opt, import_lightgbm,
                                   load_training_set, parse_bounds, write_params_file)
from uer.utils.cli import script_parser
from uer.utils.errors import cli_main

logger = logging.getLogger("run_bayesopt")


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    add_training_set_args(parser)
    parser.add_argument("--params_path", default="models/lgb_params.json", help="Where to write the best parameters.")
    parser.add_argument("--folds_num", type=int, default=5, help="Cross-validation folds scoring each point.")
    parser.add_argument("--init_points", type=int, default=5, help="Random points before the Bayesian steps.")
    parser.add_argument("--n_iter", "--epochs_num", dest="n_iter", type=int, default=300,
                        help="Bayesian optimisation steps.")
    parser.add_argument("--bounds", nargs="+", default=[], metavar="NAME=LOW:HIGH",
                        help="Replace search bounds, e.g. min_sum_hessian_in_leaf=0:1 (defaults: "
                             + ", ".join(f"{k} {lo}:{hi}" for k, (lo, hi, _) in SEARCH_SPACE.items()) + ").")
    parser.add_argument("--seed", type=int, default=7, help="Seeds the folds, the search and LightGBM.")
    group = parser.add_argument_group("fixed LightGBM settings")
    group.add_argument("--boosting_type", default=DEFAULT_PARAMS["boosting_type"])
    group.add_argument("--num_boost_round", type=int, default=SEARCH_BOOST_ROUNDS)
    group.add_argument("--num_threads", type=int, default=0, help="LightGBM threads (0: its default).")
    return parser


@cli_main
def main(argv: Optional[List[str]] = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = build_parser().parse_args(argv)
    import_lightgbm()
    import_bayes_opt()
    space = parse_bounds(args.bounds)
    paths, features, _, labels, labels_num = load_training_set(args)

    base = {**SEARCH_FIXED_PARAMS, "boosting_type": args.boosting_type, "seed": args.seed,
            "num_threads": args.num_threads}
    total = args.init_points + args.n_iter
    bounds = ", ".join(f"{name} {low:g}:{high:g}" for name, (low, high, _) in space.items())
    logger.info("Searching %s over %d points, %d-fold macro F1 on %d examples x %d features, %d classes", bounds,
                total, args.folds_num, *features.shape, labels_num)

    def report(i: int, score: float, point: dict) -> None:
        logger.info("point %d/%d: cv macro F1 %.4f %s", i, total, score, point)

    params, score = bayes_search(features, labels, labels_num, base, args.num_boost_round, args.folds_num,
                                 args.seed, args.init_points, args.n_iter, space, on_result=report)
    write_params_file(args.params_path, params, args.num_boost_round, cv_macro_f1=score, folds_num=args.folds_num,
                      labels_num=labels_num, train_path=args.train_path, train_features_path=paths)
    print(f"best cv macro F1 {score:.4f} with {params}")
    print(f"parameters written to {args.params_path}")


if __name__ == "__main__":
    main()
