"""Console commands: ``uer-<program>`` (underscores as hyphens) runs ``uer.cli.<program>.main()``.

setup.py declares one entry point per module of this package (``uer-run-classifier =
uer.cli.commands:run_classifier``); the attribute is made here on demand, so that starting a
command imports only its own program. Training and prediction programs first execute themselves
again under mimalloc, as their repository scripts do (uer/training/allocator.py).
"""
import importlib
import os
import sys
from typing import Callable, List

# The programs whose scripts start with use_mimalloc: they train or predict.
MIMALLOC = frozenset({
    "pretrain", "run_c3", "run_c3_infer", "run_chid", "run_chid_infer", "run_classifier", "run_classifier_cv",
    "run_classifier_infer", "run_classifier_infer_cv", "run_cmrc", "run_cmrc_infer", "run_dbqa",
    "run_mt_classifier", "run_ner", "run_ner_infer",
})
HERE = os.path.dirname(os.path.abspath(__file__))


def programs() -> List[str]:
    """The module names of every program, sorted."""
    return sorted(name[:-3] for name in os.listdir(HERE)
                  if name.endswith(".py") and name not in ("__init__.py", "commands.py"))


def command_name(program: str) -> str:
    return "uer-" + program.replace("_", "-")


def entry_points() -> List[str]:
    """``console_scripts`` lines for setup.py."""
    return [f"{command_name(program)} = uer.cli.commands:{program}" for program in programs()]


def __getattr__(program: str) -> Callable[[], None]:
    if program.startswith("_") or program not in programs():
        raise AttributeError(f"module 'uer.cli.commands' has no attribute {program!r}")

    def run() -> None:
        if program in MIMALLOC:
            from uer.training.allocator import use_mimalloc

            use_mimalloc(sys.argv[0])  # the installed command's own file, as python runs it
        importlib.import_module(f"uer.cli.{program}").main()

    run.__name__ = run.__qualname__ = program
    return run
