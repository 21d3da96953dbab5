"""The GPU benchmark: one command, one card, ours against transformers in the same run.

    python3 benchmarks/gpu.py                               # on a GPU: the whole table (~8 minutes on an H100)
    python3 benchmarks/gpu.py --device cpu --toy            # the same code path at toy size (CI)
    python3 benchmarks/gpu.py --rows 'pt512_bf16_*' --output benchmarks/README.md

Rows (``--rows`` takes comma-separated shell patterns of their keys):
- ``pt<seq>_<bf16|fp16>_<eager|compile>``: BERT-base MLM pre-training at sequence length 128 and 512
  (batches of ~16k tokens: 128 x 128, 32 x 512, every instance filled to the length from the book
  reviews), ``pretrain.py --target mlm`` against ``BertForMaskedLM`` (SDPA attention) on the same
  batches, same precision, with and without ``--compile`` (both sides compile each transformer
  layer): real tokens/s, model FLOPs utilisation against the card's dense peak (``PEAK_TFLOPS``),
  peak memory. Our figures are read from pretrain.py's own report lines.
- ``lean``: ours at 512 / bf16 with the Functions of uer/layers/efficient.py on this device against
  without them (``UER_LEAN_DEVICES``): whether they pay off here.
- ``ft_douban``: fine-tuning on Douban (BERT-base size, random init, 1 epoch, bf16, length-bucketed
  batches): ``run_classifier.py`` against ``BertForSequenceClassification``.
- ``fsdp``: ``torchrun --nproc_per_node 1 pretrain.py --parallel fsdp`` against ``--parallel ddp``
  (skipped, with the reason printed, when pretrain.py has no ``--parallel``).

Every side runs in a fresh process (its own peak memory, its own compile). Timings skip the first
``--warmup_steps`` steps (compilation, allocator warm-up). On CPU ``--toy`` shrinks the model, the
sequences and the grid; the peak memory is then the process's peak RSS.
"""
import argparse
import fnmatch
import json
import os
import re
import shutil
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ceiling import training_flops_per_token  # noqa: E402
from common import (REPO, python_cmd, run_measured, scratch_and_output_opts,  # noqa: E402
                    write_between_markers)
from tasks import parse_run_classifier  # noqa: E402

# Dense (no sparsity) tensor-core peak in TFLOP/s for bf16/fp16 with float32 accumulation, by a
# pattern of torch.cuda.get_device_name(); the first match wins (PCIe/NVL parts before the SXM one).
PEAK_TFLOPS: List[Tuple[str, float]] = [
    ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.0), ("H200", 989.0), ("H20", 148.0),
    ("A100", 312.0), ("A800", 312.0), ("L40S", 362.0), ("L40", 181.0), ("L4", 121.0), ("A10G", 70.0),
    ("A10", 125.0), ("RTX 4090", 165.0), ("V100", 125.0), ("T4", 65.0),
]
REPORT_LINE = re.compile(r"\|\s*(\d+)/\s*\d+ steps\|\s*([\d.]+) real tokens/s(?:.*peak mem ([\d.]+) GiB)?")
FT_MEMORY = re.compile(r"examples/s\), peak mem ([\d.]+) GiB")
TOY_BERT = {"emb_size": 64, "hidden_size": 64, "feedforward_size": 256, "heads_num": 4, "layers_num": 2,
            "hidden_act": "gelu", "dropout": 0.1, "max_seq_length": 512, "layernorm_eps": 1e-12,
            "embedding": "word_pos_seg", "encoder": "transformer", "mask": "fully_visible",
            "layernorm_positioning": "post", "target": "mlm"}
SIZES = {  # tokens per batch stay ~equal across sequence lengths
    "full": dict(seqs=(128, 512), batch={128: 128, 512: 32}, precisions=("bf16", "fp16"), compile=(False, True),
                 warmup_steps=10, steps=20, lean_seq=512, ft_batch=32, ft_seq=128, ft_examples=None),
    "toy": dict(seqs=(32,), batch={32: 8}, precisions=("bf16",), compile=(False,), warmup_steps=2, steps=2,
                lean_seq=32, ft_batch=16, ft_seq=32, ft_examples=48),
}


def peak_tflops(device_name: str) -> Optional[float]:
    for pattern, value in PEAK_TFLOPS:
        if pattern.lower() in device_name.lower():
            return value
    return None


def parse_report(text: str, after_step: int) -> Tuple[Optional[float], Optional[float]]:
    """(mean real tokens/s of the report windows past ``after_step``, peak GiB of the last line)."""
    rates, peak = [], None
    for match in REPORT_LINE.finditer(text):
        if int(match.group(1)) > after_step:
            rates.append(float(match.group(2)))
        if match.group(3):
            peak = float(match.group(3))
    return (sum(rates) / len(rates) if rates else None), peak


class Bench:
    """Paths, sizes and the results of one run; each row method adds ``self.rows[key]``."""

    def __init__(self, opts: argparse.Namespace):
        self.opts = opts
        self.size = dict(SIZES["toy" if opts.toy else "full"])
        for key in ("warmup_steps", "steps"):
            if getattr(opts, key) is not None:
                self.size[key] = getattr(opts, key)
        self.device = opts.device
        self.data = opts.data_dir
        self.vocab = os.path.join(self.data, "models", "google_zh_vocab.txt")
        self.workdir = opts.work_dir or tempfile.mkdtemp(prefix="uer_gpu_bench_")
        os.makedirs(self.workdir, exist_ok=True)
        if opts.toy:
            self.config = self.work("toy_bert.json")
            with open(self.config, "w", encoding="utf-8") as handle:
                json.dump(TOY_BERT, handle)
        else:
            self.config = os.path.join(REPO, "models", "bert", "base_config.json")
        with open(self.config, encoding="utf-8") as handle:
            self.model_config = json.load(handle)
        with open(self.vocab, encoding="utf-8") as handle:
            self.vocab_size = sum(1 for _ in handle)
        self.device_name, self.peak = self.describe_device()
        self.rows: Dict[str, Dict] = {}
        self.skipped: Dict[str, str] = {}

    def work(self, name: str) -> str:
        return os.path.join(self.workdir, name)

    def describe_device(self) -> Tuple[str, Optional[float]]:
        if self.device != "cuda":
            return "cpu", None
        # Asked in a child process: a CUDA context here would hold GPU memory during every row.
        probe = run_measured([sys.executable, "-c", "import torch; print(torch.cuda.get_device_name(0) "
                              "if torch.cuda.is_available() else '')"], timeout_s=self.timeout()).check()
        name = probe.stdout.strip()
        if not name:
            sys.exit("error: --device cuda but torch sees no GPU; use --device cpu --toy for the CPU smoke run")
        return name, peak_tflops(name)

    def timeout(self) -> float:
        return self.opts.timeout

    # ---------------------------------------------------------------------------------------- data
    def dataset(self, seq: int) -> str:
        """Book reviews as MLM instances filled to ``seq`` tokens (dynamic masks), built once."""
        path = self.work(f"mlm_{seq}.uer")
        if not os.path.exists(path):
            corpus = os.path.join(self.data, "corpora", "book_review.txt")
            run_measured(python_cmd("preprocess.py", "--corpus_path", corpus, "--vocab_path", self.vocab,
                                    "--dataset_path", path, "--target", "mlm", "--seq_length", seq,
                                    "--full_sentences", "--dynamic_masking", "--processes_num", 2, "--no_progress"),
                         timeout_s=self.timeout()).check()
        return path

    def flops_per_token(self, seq: int) -> float:
        return training_flops_per_token(self.model_config, self.vocab_size, "mlm", seq)

    def mfu(self, tokens_per_s: Optional[float], seq: int) -> Optional[float]:
        if tokens_per_s is None or self.peak is None:
            return None
        return tokens_per_s * self.flops_per_token(seq) / (self.peak * 1e12)

    # ---------------------------------------------------------------------------------------- sides
    def pretrain_argv(self, seq: int, precision: str, compiled: bool, name: str) -> List[str]:
        s = self.size
        total = s["warmup_steps"] + s["steps"]
        argv = ["--dataset_path", self.dataset(seq), "--vocab_path", self.vocab, "--config_path", self.config,
                "--target", "mlm", "--batch_size", s["batch"][seq], "--total_steps", total, "--report_steps",
                s["warmup_steps"], "--save_checkpoint_steps", total, "--learning_rate", "1e-4", "--warmup", "0.1",
                "--batch_order", "bucketed", "--device", self.device, f"--{precision}",
                "--output_model_path", self.work(f"{name}.bin")]
        return [str(a) for a in argv] + (["--compile"] if compiled else [])

    def ours(self, seq: int, precision: str, compiled: bool, name: str, launcher: Optional[List[str]] = None,
             extra: Tuple[str, ...] = (), env: Optional[Dict[str, str]] = None) -> Dict:
        argv = self.pretrain_argv(seq, precision, compiled, name) + list(extra)
        cmd = (launcher + [os.path.join(REPO, "pretrain.py")] + argv) if launcher else python_cmd("pretrain.py", *argv)
        measured = run_measured(cmd, timeout_s=self.timeout(), env=env).check()
        tokens, peak_gib = parse_report(measured.stdout + measured.stderr, self.size["warmup_steps"])
        self.clean(name)
        return self.side(tokens, seq, peak_gib * 1024 if peak_gib is not None else None, measured.peak_rss_mb,
                         measured.wall_s)

    def hf(self, seq: int, precision: str, compiled: bool) -> Dict:
        s = self.size
        measured = run_measured(python_cmd(
            "benchmarks/peer_hf.py", "pretrain", "--dataset_path", self.dataset(seq), "--config_path", self.config,
            "--target", "mlm", "--batch_size", s["batch"][seq], "--warmup_steps", s["warmup_steps"], "--steps",
            s["steps"], "--device", self.device, "--precision", precision, *(["--compile"] if compiled else [])),
            timeout_s=self.timeout()).check()
        result = measured.result()
        return self.side(result["real_tokens_per_s"], seq, result.get("peak_device_mb"), measured.peak_rss_mb,
                         measured.wall_s)

    def side(self, tokens: Optional[float], seq: int, device_mb: Optional[float], rss_mb: float,
             wall_s: float) -> Dict:
        return {"tokens_per_s": tokens, "mfu": self.mfu(tokens, seq), "peak_mb": device_mb if self.device == "cuda"
                else rss_mb, "wall_s": wall_s}

    def clean(self, name: str) -> None:
        """Checkpoints of a measured run are not needed (BERT-base + its optimizer state: ~1.8 GB)."""
        for entry in os.listdir(self.workdir):
            if entry.startswith(f"{name}.bin"):  # weights, sidecars and training-state directories
                path = self.work(entry)
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)

    # ---------------------------------------------------------------------------------------- rows
    def row_keys(self) -> Dict[str, Callable[[], Dict]]:
        s, rows = self.size, {}
        for seq in s["seqs"]:
            for precision in s["precisions"]:
                for compiled in s["compile"]:
                    key = f"pt{seq}_{precision}_{'compile' if compiled else 'eager'}"
                    rows[key] = lambda seq=seq, precision=precision, compiled=compiled, key=key: {
                        "kind": "pretrain", "seq": seq, "precision": precision, "compile": compiled,
                        "ours": self.ours(seq, precision, compiled, key), "peer": self.hf(seq, precision, compiled)}
        rows["lean"] = self.lean_row
        rows["ft_douban"] = self.finetune_row
        rows["fsdp"] = self.fsdp_row
        return rows

    def lean_row(self) -> Dict:
        seq, on = self.size["lean_seq"], ",".join(sorted({"cpu", self.device}))
        return {"kind": "lean", "seq": seq, "precision": "bf16", "compile": False,
                "ours": self.ours(seq, "bf16", False, "lean_on", env={"UER_LEAN_DEVICES": on}),
                "peer": self.ours(seq, "bf16", False, "lean_off", env={"UER_LEAN_DEVICES": ""})}

    def task_file(self, name: str) -> str:
        path = os.path.join(self.data, "datasets", "douban_book_review", f"{name}.tsv")
        limit = self.size["ft_examples"]
        if not limit:
            return path
        out = self.work(f"ft_{name}.tsv")
        with open(path, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
            for _, line in zip(range(limit + 1), src):
                dst.write(line)
        return out

    def finetune_row(self) -> Dict:
        s = self.size
        files = {name: self.task_file(name) for name in ("train", "dev", "test")}
        common = ["--batch_size", s["ft_batch"], "--learning_rate", "1e-4", "--epochs_num", 1]
        ours = run_measured(python_cmd(
            "run_classifier.py", "--vocab_path", self.vocab, "--config_path", self.config, "--train_path",
            files["train"], "--dev_path", files["dev"], "--test_path", files["test"], "--seq_length", s["ft_seq"],
            "--report_steps", 100000, "--batch_order", "bucketed", "--device", self.device, "--bf16",
            "--output_model_path", self.work("ft_ours.bin"), *common), timeout_s=self.timeout()).check()
        log_text = ours.stdout + ours.stderr
        parsed = parse_run_classifier(log_text)
        memory = FT_MEMORY.search(log_text)
        peer = run_measured(python_cmd(
            "benchmarks/peer_hf.py", "finetune", "--vocab_path", self.vocab, "--config_path", self.config,
            "--train_path", files["train"], "--dev_path", files["dev"], "--test_path", files["test"],
            "--padding", "bucket", "--seq_length", s["ft_seq"], "--device", self.device, "--precision", "bf16",
            *common), timeout_s=self.timeout()).check()
        result = peer.result()
        return {"kind": "finetune", "seq": s["ft_seq"], "precision": "bf16", "compile": False,
                "ours": {"examples_per_s": parsed["epochs"][0][1] if parsed["epochs"] else None,
                         "dev_acc": parsed["dev"][-1] if parsed["dev"] else None, "test_acc": parsed["test"],
                         "peak_mb": float(memory.group(1)) * 1024 if memory and self.device == "cuda"
                         else ours.peak_rss_mb, "wall_s": ours.wall_s},
                "peer": {"examples_per_s": result["epochs"][0]["examples_per_s"],
                         "dev_acc": result["epochs"][0]["dev_acc"], "test_acc": result.get("test_acc"),
                         "peak_mb": result.get("peak_device_mb") if self.device == "cuda" else peer.peak_rss_mb,
                         "wall_s": peer.wall_s}}

    def fsdp_row(self) -> Dict:
        probe = run_measured(python_cmd("pretrain.py", "--help"), timeout_s=self.timeout()).check()
        if "--parallel" not in probe.stdout:
            raise SkipRow("pretrain.py has no --parallel flag in this checkout (FSDP is not merged yet)")
        seq = self.size["seqs"][0]
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1"]
        backend = ["--backend", "nccl" if self.device == "cuda" else "gloo"]
        return {"kind": "fsdp", "seq": seq, "precision": "bf16", "compile": False,
                "ours": self.ours(seq, "bf16", False, "fsdp", launcher, ("--parallel", "fsdp", *backend)),
                "peer": self.ours(seq, "bf16", False, "ddp", launcher, ("--parallel", "ddp", *backend))}


class SkipRow(Exception):
    """A row that cannot run in this checkout or on this machine; the reason is printed."""


# -------------------------------------------------------------------------------------------- table
def _num(value: Optional[float], digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _pct(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _ratio(a: Optional[float], b: Optional[float]) -> str:
    return "-" if not a or not b else f"{a / b:.2f}"


PEERS = {"pretrain": "BertForMaskedLM", "lean": "ours without the efficient.py Functions",
         "finetune": "BertForSequenceClassification", "fsdp": "ours with --parallel ddp"}


def render(rows: Dict[str, Dict], skipped: Dict[str, str], device: str, memory_unit: str) -> str:
    """One markdown table: the throughput metric, MFU and peak memory of ours and the peer per row."""
    lines = [f"| row | seq | precision | compile | ours | peer | peer value | ours/peer | ours MFU | peer MFU | "
             f"ours peak {memory_unit} | peer peak {memory_unit} |", "|" + "---|" * 12]
    for key, row in rows.items():
        ours, peer = row["ours"], row["peer"]
        metric = "examples_per_s" if row["kind"] == "finetune" else "tokens_per_s"
        unit = "examples/s" if metric == "examples_per_s" else "real tokens/s"
        extra = ""
        if row["kind"] == "finetune":
            extra = f" (dev acc {_num(100 * ours['dev_acc'] if ours['dev_acc'] is not None else None, 1)} vs " \
                    f"{_num(100 * peer['dev_acc'] if peer['dev_acc'] is not None else None, 1)})"
        lines.append(f"| {key} | {row['seq']} | {row['precision']} | {'yes' if row['compile'] else 'no'} | "
                     f"{_num(ours[metric])} {unit}{extra} | {PEERS[row['kind']]} | {_num(peer[metric])} | "
                     f"{_ratio(ours[metric], peer[metric])} | {_pct(ours.get('mfu'))} | {_pct(peer.get('mfu'))} | "
                     f"{_num(ours['peak_mb'])} | {_num(peer['peak_mb'])} |")
    for key, reason in skipped.items():
        lines.append(f"| {key} | skipped: {reason} |" + " |" * 10)
    return "\n".join(lines)


START, END = "<!-- gpu:start -->", "<!-- gpu:end -->"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--toy", action="store_true", help="Tiny model, short sequences, small grid (CPU smoke run).")
    parser.add_argument("--rows", default="*", help="Comma-separated patterns of row keys (default: all).")
    parser.add_argument("--warmup_steps", type=int, default=None, help="Untimed steps first (full: 10).")
    parser.add_argument("--steps", type=int, default=None, help="Timed steps, a multiple of --warmup_steps (20).")
    scratch_and_output_opts(parser, 600, "Write the raw figures here.")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    opts = build_parser().parse_args(argv)
    bench = Bench(opts)
    if bench.size["steps"] % bench.size["warmup_steps"]:
        sys.exit("error: --steps must be a multiple of --warmup_steps (the report windows)")
    patterns = [p.strip() for p in opts.rows.split(",") if p.strip()]
    started, failed = time.time(), {}
    try:
        for key, run in bench.row_keys().items():
            if not any(fnmatch.fnmatch(key, p) for p in patterns):
                continue
            row_start = time.time()
            try:
                bench.rows[key] = run()
            except SkipRow as reason:
                bench.skipped[key] = str(reason)
            except RuntimeError as error:  # a failed process: keep going, report it, exit non-zero
                failed[key] = str(error).splitlines()[0]
                print(str(error), file=sys.stderr)
            print(f"[gpu bench] {key}: {time.time() - row_start:.0f} s "
                  f"({'skipped: ' + bench.skipped[key] if key in bench.skipped else 'failed' if key in failed else 'done'})",
                  file=sys.stderr, flush=True)
    finally:
        if not opts.work_dir:
            shutil.rmtree(bench.workdir, ignore_errors=True)
    memory_unit = "GPU MB" if opts.device == "cuda" else "RSS MB"
    peak = f"{bench.peak:g} TFLOP/s dense bf16/fp16" if bench.peak else "no peak in PEAK_TFLOPS: MFU not shown"
    text = (render(bench.rows, {**bench.skipped, **{k: f"FAILED: {v}" for k, v in failed.items()}}, opts.device,
                   memory_unit)
            + f"\n\nDevice: {bench.device_name} ({peak}); {'toy' if opts.toy else 'full'} size, "
              f"{bench.size['warmup_steps']} warm-up + {bench.size['steps']} timed steps; "
              f"{time.time() - started:.0f} s in all.")
    print(text)
    if opts.results_json:
        with open(opts.results_json, "w", encoding="utf-8") as handle:
            json.dump({"device": bench.device_name, "peak_tflops": bench.peak, "rows": bench.rows,
                       "skipped": bench.skipped, "failed": failed}, handle, indent=1)
    if opts.output:
        write_between_markers(opts.output, text, START, END)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
