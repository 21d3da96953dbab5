"""Measure this toolkit and, in the same run, the tool users would pick instead; print one table.

    python3 benchmarks/run.py                                   # everything, full size (long)
    python3 benchmarks/run.py --parts pretrain,ceiling --repeats 3
    python3 benchmarks/run.py --parts finetune --finetune_fraction 0.25
    python3 benchmarks/run.py --size toy --parts preprocess,pretrain,finetune,inference,ceiling

Parts: preprocess (wall time, peak RSS, output size, instances; the bert corpus repeated 10x shows
whether memory stays flat), pretrain (steady-state real tokens/s, s/step, peak RSS of BERT-mini
bert/mlm and the LSTM LM against transformers / plain PyTorch on the same batches), finetune
(douban_book_review: BERT-mini against BertForSequenceClassification padded to 128 and
length-bucketed; the LSTM), inference (test_nolabel.tsv, whole process and in loop), ceiling (fp32
matmul GFLOP/s and a bare SDPA BERT-mini step). Every item runs in a fresh process; items of a
part alternate ours/peer within each repeat, so machine drift hits both; cells are medians.
``--results_json`` keeps the raw figures across runs (items measured again replace theirs), so
parts can be measured by separate commands and shown in one table. ``--output`` writes the table
into a markdown file, between ``<!-- results:start -->`` and ``<!-- results:end -->`` if present.
"""
import argparse
import datetime
import json
import os
import random
import shutil
import sys
import tempfile
import time
from typing import Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (REPO, machine_description, scratch_and_output_opts,  # noqa: E402
                    write_between_markers)
from parts import Store, ceiling_items, log, preprocess_items, pretrain_items  # noqa: E402
from report import add_model_flops, render  # noqa: E402
from tasks import finetune_items, inference_items  # noqa: E402

PARTS = ("preprocess", "pretrain", "finetune", "inference", "ceiling")
START, END = "<!-- results:start -->", "<!-- results:end -->"
SIZES = {
    "full": dict(corpus_lines=None, pretrain_batch=32, warmup_steps=5, steps=20, bert_epochs=1, lstm_epochs=3,
                 max_train=None, max_eval=None, infer_rows=None, ceiling_seq=128, ceiling_warmup=3,
                 ceiling_steps=10, matmul_seconds=2.0, repeats=3, finetune_repeats=1),
    "toy": dict(corpus_lines=120, pretrain_batch=8, warmup_steps=1, steps=2, bert_epochs=1, lstm_epochs=1,
                max_train=48, max_eval=32, infer_rows=32, ceiling_seq=32, ceiling_warmup=1, ceiling_steps=2,
                matmul_seconds=0.05, repeats=1, finetune_repeats=1),
}
TOY_BERT = {"emb_size": 32, "hidden_size": 32, "feedforward_size": 64, "heads_num": 4, "layers_num": 2,
            "hidden_act": "gelu", "dropout": 0.1, "max_seq_length": 512, "layernorm_eps": 1e-12,
            "embedding": "word_pos_seg", "encoder": "transformer", "mask": "fully_visible",
            "layernorm_positioning": "post", "target": "bert"}
TOY_LSTM = {"emb_size": 32, "hidden_size": 32, "layers_num": 2, "dropout": 0.1, "max_seq_length": 512,
            "embedding": "word", "encoder": "lstm", "target": "lm"}


class Context:
    """Paths, sizes and the scratch directory shared by the parts of one run."""

    def __init__(self, opts: argparse.Namespace):
        self.opts, self.size = opts, dict(SIZES[opts.size])
        for key in ("warmup_steps", "steps", "lstm_epochs"):
            if getattr(opts, key) is not None:
                self.size[key] = getattr(opts, key)
        opts.warmup_steps, opts.steps = self.size["warmup_steps"], self.size["steps"]
        self.timeout = opts.timeout
        self.data = opts.data_dir
        self.vocab = os.path.join(self.data, "models", "google_zh_vocab.txt")
        for path in (self.vocab, os.path.join(self.data, "corpora"), os.path.join(self.data, "datasets")):
            if not os.path.exists(path):
                sys.exit(f"error: {path} not found: give --data_dir (or set UER_DATA_DIR)")
        with open(self.vocab, encoding="utf-8") as handle:
            self.vocab_size = sum(1 for _ in handle)
        self.workdir = opts.work_dir or tempfile.mkdtemp(prefix="uer_bench_")
        os.makedirs(self.workdir, exist_ok=True)
        self.pretrain_batch = self.size["pretrain_batch"]
        if opts.size == "toy":
            self.bert_config, self.lstm_config = self.write_json("toy_bert.json", TOY_BERT), \
                self.write_json("toy_lstm.json", TOY_LSTM)
        else:
            self.bert_config = os.path.join(REPO, "models", "bert", "mini_config.json")
            self.lstm_config = os.path.join(REPO, "models", "rnn_config.json")
        self.max_train = opts.max_train_examples or self.size["max_train"]
        if opts.finetune_fraction:
            self.max_train = max(1, round(opts.finetune_fraction * self.count_rows(self.task_file("train.tsv"))))
        self.max_eval = opts.max_eval_examples or self.size["max_eval"]

    def work(self, name: str) -> str:
        return os.path.join(self.workdir, name)

    def write_json(self, name: str, value: Dict) -> str:
        with open(self.work(name), "w", encoding="utf-8") as handle:
            json.dump(value, handle)
        return self.work(name)

    def configs(self) -> Dict[str, Dict]:
        with open(self.bert_config, encoding="utf-8") as a, open(self.lstm_config, encoding="utf-8") as b:
            bert, lstm = json.load(a), json.load(b)
        return {"bert": bert, "mlm": bert, "lm": lstm}

    def corpus(self, name: str) -> str:
        path = os.path.join(self.data, "corpora", name)
        if not self.size["corpus_lines"]:
            return path
        out = self.work(name)
        if not os.path.exists(out):
            with open(path, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
                for i, line in zip(range(self.size["corpus_lines"]), src):
                    dst.write(line)
        return out

    def repeated_corpus(self, name: str, times: int) -> str:
        out = self.work(f"x{times}_{name}")
        if not os.path.exists(out):
            with open(self.corpus(name), encoding="utf-8") as handle:
                text = handle.read().rstrip("\n") + "\n\n"  # a blank line keeps documents apart
            with open(out, "w", encoding="utf-8") as handle:
                handle.write(text * times)
        return out

    def task_file(self, name: str) -> str:
        return os.path.join(self.data, "datasets", "douban_book_review", name)

    @staticmethod
    def count_rows(path: str) -> int:
        with open(path, encoding="utf-8") as handle:
            return sum(1 for _ in handle) - 1

    def subset(self, name: str, rows: Optional[int], sample: bool) -> str:
        """The TSV ``name`` cut to ``rows`` rows (a seeded random sample, or the first rows)."""
        path = self.task_file(name)
        if not rows or rows >= self.count_rows(path):
            return path
        out = self.work(f"{rows}_{'sample' if sample else 'head'}_{name}")
        if not os.path.exists(out):
            with open(path, encoding="utf-8") as handle:
                header, *lines = handle.read().splitlines()
            picked = sorted(random.Random(0).sample(range(len(lines)), rows)) if sample else range(rows)
            with open(out, "w", encoding="utf-8") as handle:
                handle.write(header + "\n" + "".join(lines[i] + "\n" for i in picked))
        return out

    def finetune_files(self, quick: bool = False) -> Dict[str, str]:
        train_rows, eval_rows = (64, 64) if quick else (self.max_train, self.max_eval)
        return {"train": self.subset("train.tsv", train_rows, True), "dev": self.subset("dev.tsv", eval_rows, True),
                "test": self.subset("test.tsv", eval_rows, True)}

    def inference_files(self) -> Dict[str, str]:
        rows = self.opts.max_infer_examples or self.size["infer_rows"]
        return {"test": self.subset("test_nolabel.tsv", rows, False), "gold": self.subset("test.tsv", rows, False)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"Comma-separated, of {', '.join(PARTS)}.")
    parser.add_argument("--items", default=None, help="Only these item keys (see benchmarks/parts.py).")
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--repeats", type=int, default=None, help="Runs of each item (full: 3, toy: 1).")
    parser.add_argument("--finetune_repeats", type=int, default=None, help="Runs of each fine-tuning item (1).")
    parser.add_argument("--warmup_steps", type=int, default=None, help="Pre-training steps before timing (5).")
    parser.add_argument("--steps", type=int, default=None, help="Timed pre-training steps (20).")
    parser.add_argument("--lstm_epochs", type=int, default=None, help="LSTM fine-tuning epochs (3).")
    parser.add_argument("--max_train_examples", type=int, default=None, help="Fine-tune on a seeded sample.")
    parser.add_argument("--finetune_fraction", type=float, default=None, help="... given as a fraction of train.")
    parser.add_argument("--max_eval_examples", type=int, default=None, help="Dev/test seeded sample size.")
    parser.add_argument("--max_infer_examples", type=int, default=None, help="First rows of test_nolabel.tsv.")
    parser.add_argument("--processes_num", type=int, default=2, help="preprocess.py workers (original: 2).")
    scratch_and_output_opts(parser, 900, "Raw figures, kept and merged across runs.")
    return parser


def describe(saved: Dict) -> str:
    machine = ", ".join(f"{k} {v}" for k, v in saved["machine"].items())
    lines = [f"Machine: {machine}.", ""]
    for part, note in sorted(saved["runs"].items()):
        lines.append(f"- {part}: {note}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    opts = build_parser().parse_args(argv)
    parts = [p.strip() for p in opts.parts.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        sys.exit(f"error: unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    ctx = Context(opts)
    saved = {"store": {}, "runs": {}, "notes": {}}
    if opts.results_json and os.path.exists(opts.results_json):
        with open(opts.results_json, encoding="utf-8") as handle:
            saved = json.load(handle)
    store = Store(saved["store"])
    saved["machine"] = machine_description()
    builders = {"preprocess": preprocess_items, "pretrain": pretrain_items, "finetune": finetune_items,
                "inference": inference_items, "ceiling": ceiling_items}
    wanted = set(opts.items.split(",")) if opts.items else None
    try:
        for part in parts:
            items = {k: f for k, f in builders[part](ctx).items() if wanted is None or k in wanted}
            for key in items:
                store.reset(key)
            repeats = (opts.finetune_repeats or ctx.size["finetune_repeats"]) if part == "finetune" \
                else (opts.repeats or ctx.size["repeats"])
            load = os.getloadavg()[0]
            started = time.time()
            for repeat in range(repeats):
                for key, run in items.items():
                    log(f"{part} repeat {repeat + 1}/{repeats}")
                    run(store)
                    save(opts, saved)
            saved["runs"][part] = run_note(part, ctx, opts, repeats, items, load, started)
            if part == "finetune":
                saved["notes"]["partial_finetune"] = bool(ctx.max_train or ctx.max_eval or
                                                          ctx.size["lstm_epochs"] != 3)
            save(opts, saved)
    finally:
        if not opts.work_dir:
            shutil.rmtree(ctx.workdir, ignore_errors=True)
    add_model_flops(store.data, ctx.configs(), ctx.vocab_size)
    text = render(store.data, saved["notes"]) + "\n\n" + describe(saved)
    print(text)
    if opts.output:
        write_between_markers(opts.output, text, START, END)


def run_note(part: str, ctx: Context, opts, repeats: int, items: Dict, load: float, started: float) -> str:
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    note = (f"{stamp}, {opts.size} size, {repeats} repeat(s) of {', '.join(items)}; load average "
            f"{load:.1f} at start, {os.getloadavg()[0]:.1f} at end; {time.time() - started:.0f} s")
    if part == "pretrain":
        note += f"; batch {ctx.pretrain_batch}, {ctx.size['warmup_steps']} warm-up + {ctx.size['steps']} timed steps"
    if part == "finetune":
        note += (f"; train {ctx.max_train or 'all 20,000'} examples, dev/test {ctx.max_eval or 'all 10,000'}; "
                 f"BERT {ctx.size['bert_epochs']} epoch, LSTM {ctx.size['lstm_epochs']} epoch(s)")
    if part == "preprocess":
        note += f"; --processes_num {opts.processes_num}, dup_factor 5, static masking (the original's settings)"
    return note


def save(opts, saved: Dict) -> None:
    if opts.results_json:
        tmp = opts.results_json + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(saved, handle, indent=1)
        os.replace(tmp, opts.results_json)


if __name__ == "__main__":
    main()
