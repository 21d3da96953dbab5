"""Stacking: LightGBM over the out-of-fold class probabilities of several run_classifier_cv.py models.

The program is ``uer/cli/run_lgb.py``;
``pip install`` makes it the ``uer-run-lgb`` command.
"""
from uer.cli.run_lgb import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
