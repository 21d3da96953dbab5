"""Console commands (``uer-run-classifier`` ...): one per program of uer/cli, the same programs as
the repository's scripts, which are thin wrappers around them."""
import glob
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO
from uer.cli import commands

# Scripts that are no program of their own: demo.py runs the repository's scripts beside it, and
# generate_mt.py is generate_seq2seq.py under its original name.
NOT_WRAPPERS = {"setup.py", "demo.py", "scripts/generate_mt.py"}


def wrappers():
    paths = [p for pattern in ("*.py", "inference/*.py", "scripts/*.py") for p in glob.glob(os.path.join(REPO, pattern))]
    return {os.path.relpath(p, REPO): p for p in sorted(paths) if os.path.relpath(p, REPO) not in NOT_WRAPPERS}


def test_every_script_wraps_one_program_and_every_program_has_a_script():
    wrapped, mimalloc = set(), set()
    for relative, path in wrappers().items():
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        program = os.path.basename(relative)[:-3]
        assert re.search(rf"^from uer\.cli\.{program} import .*\bmain\b", text, re.M), relative
        assert len(text.splitlines()) <= 16, f"{relative} should stay a thin wrapper"
        wrapped.add(program)
        if "use_mimalloc(__file__)" in text:
            mimalloc.add(program)
    assert wrapped == set(commands.programs())
    assert mimalloc == commands.MIMALLOC  # the installed command re-executes under mimalloc as its script does


def test_entry_points_name_callable_programs():
    lines = commands.entry_points()
    assert "uer-run-classifier = uer.cli.commands:run_classifier" in lines
    assert "uer-preprocess = uer.cli.commands:preprocess" in lines and len(lines) == len(commands.programs())
    assert commands.run_ner_infer.__name__ == "run_ner_infer"
    with pytest.raises(AttributeError):
        commands.no_such_program


def corpus_args(directory):
    with open(os.path.join(directory, "corpus.txt"), "w", encoding="utf-8") as handle:
        handle.write("这本书很好看\n今天天气很好，我们去公园玩吧\n")
    return ["--corpus_path", "corpus.txt", "--vocab_path", os.path.join(REPO, "models", "google_zh_vocab.txt"),
            "--target", "lm", "--seq_length", "16", "--no_progress"]


def test_command_runs_its_program_in_another_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["uer-preprocess", *corpus_args(str(tmp_path)), "--dataset_path", "a.pt"])
    commands.preprocess()
    script = subprocess.run([sys.executable, os.path.join(REPO, "preprocess.py"), *corpus_args(str(tmp_path)),
                             "--dataset_path", "b.pt"], cwd=tmp_path, capture_output=True, text=True)
    assert script.returncode == 0, script.stderr
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()


def test_installed_command_from_a_temporary_folder(tmp_path):
    """``pip install`` (CI's editable install of requirements-test.txt) puts the commands on PATH."""
    command = shutil.which("uer-preprocess") or shutil.which("uer-preprocess", path=os.path.dirname(sys.executable))
    if command is None:
        if os.environ.get("CI"):
            pytest.fail("uer-preprocess is not installed: CI installs the package with its console commands")
        pytest.skip("the package is not pip-installed here (its console commands are absent)")
    result = subprocess.run([command, *corpus_args(str(tmp_path)), "--dataset_path", "c.pt"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "wrote 2 instances" in result.stderr + result.stdout and (tmp_path / "c.pt").exists()
    failed = subprocess.run([command, "--corpus_path", "missing.txt"], cwd=tmp_path, capture_output=True, text=True)
    assert failed.returncode == 2 and failed.stderr.startswith("error: ") and "Traceback" not in failed.stderr
