"""Shared helpers of the benchmark: paths, running one measured item in a fresh process, results.

Every measured item runs in its own subprocess so that its peak memory is its own. The peak is
the larger of two readings: ``ru_maxrss`` of the child from ``os.wait4`` (the largest single
process), and the largest sum of ``VmRSS`` over the child's whole process tree, polled every
``poll_s`` seconds (preprocess.py forks workers; pages shared after a fork count once per process).

A worker that measures itself prints one line ``BENCH_RESULT {json}`` on stdout.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_DIR = os.path.join(REPO, "benchmarks")
RESULT_TAG = "BENCH_RESULT "


def default_data_dir() -> str:
    """``$UER_DATA_DIR``, else the repository itself (models/, corpora/ and datasets/ ship with it)."""
    return os.environ.get("UER_DATA_DIR", REPO)


def emit(result: Dict) -> None:
    """Print a worker's result line (read back by :func:`parse_result`)."""
    print(RESULT_TAG + json.dumps(result), flush=True)


def parse_result(text: str) -> Dict:
    for line in reversed(text.splitlines()):
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    raise RuntimeError("the worker printed no BENCH_RESULT line")


def self_peak_rss_mb() -> float:
    """VmHWM of the calling process, in MB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _children(pid: int) -> List[int]:
    found: List[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.extend(int(x) for x in handle.read().split())
    except OSError:
        pass
    return found


def _tree_rss_kb(root: int) -> int:
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
        stack.extend(_children(pid))
    return total


@dataclass
class Measured:
    """One finished subprocess: exit status, wall time, peak memory, its output."""
    cmd: List[str]
    returncode: int
    wall_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str

    def check(self) -> "Measured":
        if self.returncode != 0:
            tail = "\n".join((self.stdout + "\n" + self.stderr).splitlines()[-25:])
            raise RuntimeError(f"command failed ({self.returncode}): {' '.join(self.cmd)}\n{tail}")
        return self

    def result(self) -> Dict:
        return parse_result(self.stdout)


def run_measured(cmd: Sequence[str], timeout_s: float = 900, env: Optional[Dict[str, str]] = None,
                 cwd: Optional[str] = None, poll_s: float = 0.05) -> Measured:
    """Run ``cmd``; wall time from start to exit, peak RSS of the process tree (see module doc)."""
    import tempfile

    cmd = [str(c) for c in cmd]
    full_env = dict(os.environ)
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    full_env.setdefault("TOKENIZERS_PARALLELISM", "true")
    # Scripts under benchmarks/ import uer too: this checkout's, not whichever one is installed.
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, full_env.get("PYTHONPATH")]))
    if env:
        full_env.update(env)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=full_env, cwd=cwd or REPO)
        peak_kb = [0]
        done = threading.Event()

        def poll() -> None:
            while not done.is_set():
                peak_kb[0] = max(peak_kb[0], _tree_rss_kb(proc.pid))
                if time.perf_counter() - start > timeout_s:
                    proc.kill()
                done.wait(poll_s)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        poller.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        peak_mb = max(peak_kb[0], usage.ru_maxrss) / 1024
        return Measured(cmd, proc.returncode, wall, peak_mb, out.read(), err.read())


def python_cmd(script: str, *args: str) -> List[str]:
    """``python <repo>/<script> args...``"""
    return [sys.executable, os.path.join(REPO, script), *[str(a) for a in args]]


@dataclass
class Series:
    """Repeated measurements of one metric."""
    values: List[float] = field(default_factory=list)

    def add(self, value: Optional[float]) -> None:
        if value is not None:
            self.values.append(float(value))

    @property
    def median(self) -> Optional[float]:
        return statistics.median(self.values) if self.values else None


def median(values: Sequence[float]) -> Optional[float]:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def machine_description() -> Dict[str, str]:
    """CPU model, cores, torch/transformers versions, load average (for the README)."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"cpu": model, "cores": str(os.cpu_count()), "python": platform.python_version()}
    try:
        with open("/proc/meminfo") as handle:
            info["memory"] = f"{int(handle.readline().split()[1]) / 1024 ** 2:.0f} GB"
    except (OSError, ValueError, IndexError):
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch threads"] = str(torch.get_num_threads())
    except ImportError:
        pass
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError:
        info["transformers"] = "not installed"
    return info


def write_between_markers(path: str, text: str, start: str, end: str) -> None:
    """Put ``text`` between the ``start`` and ``end`` lines of the markdown file ``path`` (written
    atomically); a file without them gets them, with ``text``, at its end (a new file a heading)."""
    old = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    if start in old and end in old:
        new = old[:old.index(start)] + start + "\n" + text + "\n" + old[old.index(end):]
    else:
        new = (old.rstrip("\n") + "\n\n" if old.strip() else "# Benchmark results\n\n") + f"{start}\n{text}\n{end}\n"
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(new)
    os.replace(tmp, path)


def scratch_and_output_opts(parser, timeout_s: float, results_help: str) -> None:
    """``--data_dir --work_dir --results_json --output --timeout``, shared by the benchmark commands."""
    parser.add_argument("--data_dir", default=default_data_dir())
    parser.add_argument("--work_dir", default=None, help="Scratch directory (default: a temporary one, removed).")
    parser.add_argument("--results_json", default=None, help=results_help)
    parser.add_argument("--output", default=None, help="Markdown file to write the table into (between its markers).")
    parser.add_argument("--timeout", type=float, default=timeout_s, help="Seconds one measured process may take.")
