"""Our side's in-loop timings, taken inside the real scripts.

    python benchmarks/ours.py infer -- <inference/run_classifier_infer.py arguments>

``infer`` imports the program behind ``inference/run_classifier_infer.py`` (``uer.cli``), wraps
its ``predict`` with a timer and runs its ``main`` unchanged: the caller's wall time is the whole process, and the
``BENCH_RESULT`` line adds the prediction loop alone. Pre-training's steady-state loop is
``benchmarks/pretrain_bench.py`` (the trainer's own benchmark); fine-tuning reports its own
examples/s per epoch in the log of run_classifier.py.
"""
import os
import sys

if __name__ == "__main__":  # measure what users get: the scripts run under mimalloc (uer/training/allocator.py)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from uer.training.allocator import use_mimalloc

    use_mimalloc(__file__)

import importlib
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import emit, self_peak_rss_mb  # noqa: E402


def infer(argv: list) -> None:
    from uer.training.allocator import active_allocator

    script = importlib.import_module("uer.cli.run_classifier_infer")  # the program behind the script
    timed = {}
    original = script.predict

    def predict(model, data, *args, **kwargs):
        start = time.perf_counter()
        out = original(model, data, *args, **kwargs)
        timed["seconds"], timed["examples"] = time.perf_counter() - start, len(data)
        return out

    script.predict = predict
    try:
        script.main(argv)
    except SystemExit as exit_:  # cli_main exits with the status; 0 or None is success
        if exit_.code not in (0, None):
            raise
    emit({"examples": timed["examples"], "loop_seconds": timed["seconds"],
          "examples_per_s": timed["examples"] / timed["seconds"], "peak_rss_mb": self_peak_rss_mb(),
          "allocator": active_allocator()})


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] != "infer":
        sys.exit(__doc__)
    infer([a for a in sys.argv[2:] if a != "--"])


if __name__ == "__main__":
    main()
