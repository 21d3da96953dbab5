"""Pre-training throughput: real (non-pad) tokens/s and peak memory of the real training loop.

    python benchmarks/pretrain_bench.py                      # BERT-mini, bert target, book reviews
    python benchmarks/pretrain_bench.py --warmup_steps 10 --steps 30 -- --bf16

Builds a dataset from ``$UER_DATA_DIR/corpora/book_review_bert.txt`` with preprocess.py (dynamic
masking, seq_length 128) unless ``--dataset_path`` is given, then runs pretrain.py's own worker
(same loader, model, optimizer and Trainer) in this process for ``warmup_steps + steps`` steps
without writing checkpoints, and times the last ``steps`` of them. Arguments after ``--`` go to
pretrain.py. Prints one JSON line: tokens/s over real tokens (``seg > 0``), seconds per step,
peak RSS (VmHWM) and the machine's load average (other processes skew CPU timings).
"""
import os
import sys

if __name__ == "__main__":  # measure what users get: the scripts run under mimalloc (uer/training/allocator.py)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from uer.training.allocator import use_mimalloc

    use_mimalloc(__file__)

import argparse
import importlib.util
import json
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.environ.get("UER_DATA_DIR", REPO)  # the repository ships models/, corpora/, datasets/


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"uer_{name}_script", os.path.join(REPO, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peak_rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class TimedBatches:
    """Wraps the batch iterator: timestamps each request and counts the real tokens served."""

    def __init__(self, batches, warmup_steps: int):
        self.batches, self.warmup_steps = batches, warmup_steps
        self.served, self.tokens, self.start = 0, 0, None

    def __iter__(self):
        return self

    def __next__(self):
        if self.served == self.warmup_steps:
            self.start = time.perf_counter()
        batch = next(self.batches)
        self.served += 1
        if self.served > self.warmup_steps:
            pieces = batch if isinstance(batch, list) else [batch]  # a batch cut into micro-batches
            self.tokens += sum(int((piece["seg"] > 0).sum()) for piece in pieces)
        return batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset_path", default=None)
    parser.add_argument("--corpus_path", default=os.path.join(DATA_DIR, "corpora", "book_review_bert.txt"))
    parser.add_argument("--vocab_path", default=os.path.join(DATA_DIR, "models", "google_zh_vocab.txt"))
    parser.add_argument("--config_path", default=os.path.join(REPO, "models", "bert", "mini_config.json"))
    parser.add_argument("--target", default="bert")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--warmup_steps", type=int, default=10)
    parser.add_argument("--steps", type=int, default=30)
    options, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    workdir = tempfile.mkdtemp(prefix="uer_bench_")
    dataset = options.dataset_path or os.path.join(workdir, "dataset.pt")
    if not options.dataset_path:
        subprocess.run([sys.executable, os.path.join(REPO, "preprocess.py"), "--corpus_path", options.corpus_path,
                        "--vocab_path", options.vocab_path, "--dataset_path", dataset, "--target", options.target,
                        "--seq_length", "128", "--dynamic_masking", "--no_progress"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    import uer.trainer as trainer_module
    from uer.utils.config import parse_args

    total = options.warmup_steps + options.steps
    argv = ["--dataset_path", dataset, "--vocab_path", options.vocab_path, "--config_path", options.config_path,
            "--target", options.target, "--batch_size", str(options.batch_size), "--total_steps", str(total),
            "--report_steps", str(total), "--save_checkpoint_steps", str(total), "--learning_rate", "1e-4",
            "--output_model_path", os.path.join(workdir, "model.bin")] + extra
    args = parse_args(load_script("pretrain").build_parser(), argv)
    trainer_module.check_plan(args)

    timed = {}
    original_train = trainer_module.Trainer.train

    def train(self, batches=None):
        self.save = lambda: None  # measure training, not checkpoint writing
        timed["batches"] = TimedBatches(batches if batches is not None else iter(self.loader), options.warmup_steps)
        original_train(self, timed["batches"])
        timed["end"] = time.perf_counter()

    trainer_module.Trainer.train = train
    trainer_module.pretrain_worker(args)
    batches = timed["batches"]
    seconds = timed["end"] - batches.start
    import torch

    from uer.training.allocator import active_allocator

    print(json.dumps({
        "config": os.path.basename(options.config_path), "target": options.target, "batch_size": options.batch_size,
        "extra_flags": " ".join(extra), "threads": torch.get_num_threads(), "measured_steps": options.steps,
        "real_tokens_per_s": round(batches.tokens / seconds, 1), "s_per_step": round(seconds / options.steps, 4),
        "real_tokens_per_step": round(batches.tokens / options.steps, 1), "peak_rss_mb": round(peak_rss_mb(), 1),
        "load_average": os.getloadavg()[0], "allocator": active_allocator(),
    }))


if __name__ == "__main__":
    main()
