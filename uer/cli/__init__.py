"""The programs of the toolkit: one module per command, each with ``main(argv=None)``.

The files at the repository root, in ``inference/`` and in ``scripts/`` are thin wrappers around
these modules, so ``python3 run_classifier.py ...`` works as before; ``pip install`` also makes
every module a console command (``uer-run-classifier``, ``uer-preprocess``...; see
:mod:`uer.cli.commands`) that runs from any folder. demo.py stays a repository script: it runs the
repository's scripts on files beside it.
"""
