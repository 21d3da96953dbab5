"""Bayesian optimisation of the LightGBM parameters of scripts/run_lgb.py (bayes_opt package),.

The program is ``uer/cli/run_bayesopt.py``;
``pip install`` makes it the ``uer-run-bayesopt`` command.
"""
from uer.cli.run_bayesopt import build_parser, main  # noqa: E402,F401 (main, and what tests build from)

if __name__ == "__main__":
    main()
