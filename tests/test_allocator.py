"""The scripts run under mimalloc on Linux (glibc's heap fragments under training); see
uer/utils/allocator.py."""
import os
import subprocess
import sys

import pytest

from uer.utils.allocator import ALLOCATOR_ENV, mimalloc_command, mimalloc_library

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


PROBE = """
import sys
from uer.utils.allocator import active_allocator, use_mimalloc
print("started", flush=True)
use_mimalloc()
print(active_allocator(), sys.argv[1:])
"""


@linux_only
@pytest.mark.skipif(mimalloc_library() is None, reason="cmeel-mimalloc is not installed")
def test_a_command_runs_again_once_under_mimalloc_with_its_arguments():
    env = {key: value for key, value in os.environ.items() if key not in ("LD_PRELOAD", ALLOCATOR_ENV)}
    result = subprocess.run([sys.executable, "-c", PROBE, "--flag", "a b"], capture_output=True, text=True,
                            env=env, check=True)
    assert result.stdout.splitlines() == ["started", "started", "mimalloc ['--flag', 'a b']"]
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            env={**env, ALLOCATOR_ENV: "system"}, check=True)
    assert result.stdout.splitlines() == ["started", "system []"]
