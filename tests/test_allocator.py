"""The scripts run under mimalloc on Linux (glibc's heap fragments under training); see
uer/training/allocator.py."""
import os
import subprocess
import sys

import pytest

from uer.training.allocator import ALLOCATOR_ENV, mimalloc_command, mimalloc_library, program_path

LIBRARY = "/site-packages/cmeel.prefix/lib/libmimalloc.so"
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD is a Linux mechanism")


@linux_only
def test_command_preloads_mimalloc_with_lazy_commit():
    environ = mimalloc_command({"PATH": "/usr/bin"}, LIBRARY)
    assert environ == {"PATH": "/usr/bin", "LD_PRELOAD": LIBRARY, "MIMALLOC_ARENA_EAGER_COMMIT": "0"}


@linux_only
def test_user_choices_win():
    assert mimalloc_command({"MIMALLOC_ARENA_EAGER_COMMIT": "1"}, LIBRARY)["MIMALLOC_ARENA_EAGER_COMMIT"] == "1"
    assert mimalloc_command({ALLOCATOR_ENV: "system"}, LIBRARY) is None
    assert mimalloc_command({ALLOCATOR_ENV: " System "}, LIBRARY) is None
    assert mimalloc_command({"LD_PRELOAD": "/usr/lib/libjemalloc.so.2"}, LIBRARY) is None  # the user's allocator
    assert mimalloc_command({"LD_PRELOAD": LIBRARY}, LIBRARY) is None  # already executed again: no loop
    assert mimalloc_command({}, None) is None  # library not installed


def test_program_path_is_the_script_the_interpreter_runs():
    assert program_path(["python3", "run_classifier.py", "--seed", "1"]) == "run_classifier.py"
    assert program_path(["python3", "-u", "-X", "importtime", "-W", "ignore", "x.py", "-m"]) == "x.py"
    assert program_path(["python3", "-m", "pytest", "tests/x.py"]) is None
    assert program_path(["python3", "-c", "import x", "x.py"]) is None
    assert program_path(["python3"]) is None


PROBE = """
import sys
from uer.training.allocator import active_allocator, use_mimalloc
print("started", flush=True)
use_mimalloc(__file__)
print(active_allocator(), sys.argv[1:])
"""


def _clean_env():
    return {key: value for key, value in os.environ.items() if key not in ("LD_PRELOAD", ALLOCATOR_ENV)}


@linux_only
@pytest.mark.skipif(mimalloc_library() is None, reason="cmeel-mimalloc is not installed")
def test_a_command_runs_again_once_under_mimalloc_with_its_arguments(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE, encoding="utf-8")
    env = _clean_env()
    result = subprocess.run([sys.executable, "-u", str(probe), "--flag", "a b"], capture_output=True, text=True,
                            env=env, check=True)
    assert result.stdout.splitlines() == ["started", "started", "mimalloc ['--flag', 'a b']"]
    result = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True,
                            env={**env, ALLOCATOR_ENV: "system"}, check=True)
    assert result.stdout.splitlines() == ["started", "system []"]
    result = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True,
                            env={**env, ALLOCATOR_ENV: "jemalloc"}, check=True)
    assert result.stdout.splitlines() == ["started", "started", "mimalloc []"]
    assert result.stderr.count("UER_ALLOCATOR='jemalloc' is neither 'mimalloc' nor 'system'") == 1


@linux_only
@pytest.mark.skipif(mimalloc_library() is None, reason="cmeel-mimalloc is not installed")
def test_a_script_run_inside_another_program_never_replaces_it(tmp_path):
    """runpy (as the tests and notebooks do) runs the script as __main__ inside the host process."""
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE, encoding="utf-8")
    host = f"import runpy, sys; sys.argv = [{str(probe)!r}]; runpy.run_path({str(probe)!r}, run_name='__main__')"
    result = subprocess.run([sys.executable, "-c", host], capture_output=True, text=True, env=_clean_env(),
                            check=True)
    assert result.stdout.splitlines() == ["started", "system []"]
