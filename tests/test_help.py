"""Every script's ``-h`` states its options' defaults (one formatter: uer.utils.cli.HelpFormatter)."""
import argparse
import contextlib
import glob
import io
import os
import re
import runpy
import sys

import pytest

from tests.conftest import REPO
from uer.utils.cli import script_parser, shows_default

SCRIPTS = sorted(os.path.relpath(path, REPO) for pattern in ("*.py", "inference/*.py", "scripts/*.py")
                 for path in glob.glob(os.path.join(REPO, pattern)) if not path.endswith("setup.py"))


class _Parsed(BaseException):
    """Raised by the patched ``parse_args``: the script built its parser."""


def script_parser_of(script: str, monkeypatch) -> argparse.ArgumentParser:
    built = []

    def capture(self, args=None, namespace=None):
        built.append(self)
        raise _Parsed()

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", capture)
    monkeypatch.setattr(sys, "argv", [script])
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            runpy.run_path(os.path.join(REPO, script), run_name="__main__")
    except _Parsed:
        pass
    finally:
        monkeypatch.undo()
    assert built, f"{script} built no parser"
    return built[-1]


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_states_the_defaults(script, monkeypatch):
    parser = script_parser_of(script, monkeypatch)
    text = " ".join(parser.format_help().split())
    missing = [action.option_strings[-1] for action in parser._actions if shows_default(action)
               and "default" not in (action.help or "").lower() and f"(default: {action.default})" not in text]
    assert not missing, f"{script} -h does not state the default of {missing}"


def test_options_without_help_text_show_their_default_and_descriptions_keep_their_layout():
    parser = script_parser("Usage:\n\n    python x.py --a 1\n")
    parser.add_argument("--learning_rate", type=float, default=2e-5)
    parser.add_argument("--batch_size", type=int, default=32, help="Examples per step.")
    parser.add_argument("--output_path", default=None, help="Default: stdout.")
    parser.add_argument("--fp16", action="store_true")
    text = parser.format_help()
    assert "    python x.py --a 1" in text
    assert re.search(r"--learning_rate LEARNING_RATE\s+\(default: 2e-05\)", text)
    assert "Examples per step. (default: 32)" in text
    assert "Default: stdout." in text and "(default: None)" not in text and "(default: False)" not in text
