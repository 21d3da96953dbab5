"""Batch order against accuracy and speed: short fine-tuning runs over several seeds, per order.

    python3 benchmarks/batch_order.py                        # everything below (about 45 min on 2 cores)
    python3 benchmarks/batch_order.py --parts short --seeds 1,2
    python3 benchmarks/batch_order.py --size toy             # seconds: keeps the code path alive in CI

Parts (each run is run_classifier.py / run_ner.py in a fresh process, orders alternating):
- ``short``: the setting of issue 13, measured side by side with the original UER-py: BERT-mini from
  random initialisation, the first 4,000 Douban training reviews, the first 2,000 dev reviews, all
  10,000 test reviews, 1 epoch (125 steps), lr 1e-4, batch 32, seq 128. Test accuracy per seed.
- ``speed``: one full Douban epoch (20,000 reviews) per order, examples/s; padding fraction (real
  tokens / padded slots) computed from each order's batches on the same data.
- ``ner``: MSRA NER (train on test.tsv, 4,636 sentences; dev.tsv for the F1), BERT-mini from random
  initialisation, 3 epochs, lr 5e-4, 30% warm-up: entity F1 per seed.
- ``pretrain``: BERT-mini ``--target bert`` pre-training on corpora/book_review_bert.txt (dynamic
  masking, seq 128, batch 32) per order: real tokens/s of pretrain.py's own loop (pretrain_bench.py).
The original UER-py's figures for ``short`` (measured in the issue) are printed as the reference.
"""
import argparse
import functools
import json
import os
import random
import re
import statistics
import sys
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import REPO, default_data_dir, machine_description, python_cmd, run_measured  # noqa: E402
from tasks import EPOCH_LINE, parse_run_classifier  # noqa: E402

ORIGINAL_SHORT = {1: 73.62, 2: 75.83, 3: 75.46}  # UER-py, same setting (issue 13)
F1_LINE = re.compile(r"^.*Report precision, recall, and f1:\s*\n.*?([\d.]+), ([\d.]+), ([\d.]+)\s*$", re.M)
SIZES = {
    "full": dict(short_train=4000, short_dev=2000, short_test=None, speed_train=None, speed_dev=2000,
                 ner_train=None, ner_dev=None, ner_epochs=3, config="models/bert/mini_config.json",
                 pretrain_warmup=5, pretrain_steps=60),
    "toy": dict(short_train=64, short_dev=32, short_test=32, speed_train=64, speed_dev=16,
                ner_train=32, ner_dev=16, ner_epochs=1, config=None, pretrain_warmup=1, pretrain_steps=2),
}
TOY_BERT = {"emb_size": 32, "hidden_size": 32, "feedforward_size": 64, "heads_num": 4, "layers_num": 2,
            "hidden_act": "gelu", "dropout": 0.1, "max_seq_length": 512, "layernorm_eps": 1e-12,
            "embedding": "word_pos_seg", "encoder": "transformer", "mask": "fully_visible",
            "layernorm_positioning": "post"}


def head_rows(src: str, dst: str, rows: Optional[int]) -> str:
    """The header and the first ``rows`` data lines of a TSV file (all of them for None)."""
    with open(src, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    keep = lines if rows is None else lines[:rows + 1]
    with open(dst, "w", encoding="utf-8") as handle:
        handle.write("\n".join(keep) + "\n")
    return dst


def order_settings(order: str, micro_batches: int) -> Tuple[str, int, int]:
    """``random`` / ``random:N`` (N micro-batches), ``bucketed`` (100 batches sorted together, whole
    batches) / ``bucketed:K`` (K batches sorted together, then ``micro_batches``) -> (order, micro, bucket)."""
    name, _, value = order.partition(":")
    if name == "bucketed":
        return name, micro_batches if value else 1, int(value or 100)
    return name, int(value or micro_batches), 100


@functools.lru_cache(maxsize=None)
def example_lengths(train_path: str, vocab: str) -> "np.ndarray":
    """Encoded lengths of the training file's examples (read once, whichever orders are measured)."""
    from uer.finetune import PairEncoder, read_classification
    from uer.tokenizers import build_tokenizer

    tokenizer = build_tokenizer(argparse.Namespace(tokenizer="bert", vocab_path=vocab, spm_model_path=None,
                                                   do_lower_case=True))
    return read_classification(train_path, PairEncoder(tokenizer, 128)).lengths


def padding_fraction(train_path: str, vocab: str, order: str, micro_batches: int, seed: int) -> float:
    """Real tokens / padded slots over one epoch of ``order``'s training batches."""
    import numpy as np

    from uer.finetune.batching import training_batches

    lengths = example_lengths(train_path, vocab)
    name, micro, bucket = order_settings(order, micro_batches)
    batches = training_batches(lengths, 32, random.Random(seed), name, micro, bucket)
    slots = sum(len(piece) * int(lengths[piece].max()) for batch in batches for piece in batch)
    return float(np.sum(lengths)) / slots


class Bench:
    def __init__(self, opts: argparse.Namespace):
        self.opts, self.size = opts, SIZES[opts.size]
        self.data = opts.data_dir
        self.vocab = os.path.join(self.data, "models", "google_zh_vocab.txt")
        self.work = opts.work_dir or tempfile.mkdtemp(prefix="uer_batch_order_")
        os.makedirs(self.work, exist_ok=True)
        if self.size["config"]:
            self.config = os.path.join(REPO, self.size["config"])
        else:
            self.config = os.path.join(self.work, "toy_bert.json")
            with open(self.config, "w", encoding="utf-8") as handle:
                json.dump(TOY_BERT, handle)
        self.results: Dict[str, List[dict]] = {}
        # Accuracy runs may share a busy machine: one thread each avoids OpenMP spinning against
        # other processes (figures of examples/s are only comparable within one setting).
        self.env = {"OMP_NUM_THREADS": str(opts.threads)} if opts.threads else None

    def douban(self, split: str, rows: Optional[int]) -> str:
        src = os.path.join(self.data, "datasets", "douban_book_review", f"{split}.tsv")
        return head_rows(src, os.path.join(self.work, f"douban_{split}_{rows or 'all'}.tsv"), rows)

    def order_flags(self, order: str) -> List[str]:
        name, micro, bucket = order_settings(order, self.opts.micro_batches)
        return ["--batch_order", name, "--micro_batches", str(micro), "--bucket_batches", str(bucket)]

    def classifier(self, order: str, seed: int, train: str, dev: str, test: Optional[str]) -> dict:
        extra = ["--test_path", test] if test else []
        m = run_measured(python_cmd(
            "run_classifier.py", "--vocab_path", self.vocab, "--config_path", self.config, "--train_path", train,
            "--dev_path", dev, *extra, "--seq_length", 128, "--batch_size", 32, "--learning_rate", "1e-4",
            "--epochs_num", 1, "--report_steps", 100000, "--seed", seed, *self.order_flags(order),
            "--output_model_path", os.path.join(self.work, "classifier.bin")), self.opts.timeout, self.env).check()
        parsed = parse_run_classifier(m.stdout + m.stderr)
        collapsed = "collapsed to one class" in m.stdout + m.stderr
        return {"order": order, "seed": seed, "test": None if parsed["test"] is None else 100 * parsed["test"],
                "dev": 100 * parsed["dev"][-1], "examples_per_s": parsed["epochs"][0][1], "collapsed": collapsed}

    def short(self) -> None:
        train, dev = self.douban("train", self.size["short_train"]), self.douban("dev", self.size["short_dev"])
        test = self.douban("test", self.size["short_test"])
        for seed in self.opts.seeds:
            for order in self.opts.orders:
                result = self.classifier(order, seed, train, dev, test)
                print(f"short  seed {seed}  {order:10s} test {result['test']:.2f}  dev {result['dev']:.2f}  "
                      f"{result['examples_per_s']:.1f} ex/s{'  COLLAPSED' if result['collapsed'] else ''}", flush=True)
                self.results.setdefault("short", []).append(result)

    def speed(self) -> None:
        train, dev = self.douban("train", self.size["speed_train"]), self.douban("dev", self.size["speed_dev"])
        for repeat in range(self.opts.speed_repeats):
            for order in self.opts.speed_orders:
                result = self.classifier(order, 7 + repeat, train, dev, None)
                result["padding_fraction"] = padding_fraction(train, self.vocab, order, self.opts.micro_batches, 7)
                print(f"speed  {order:10s} {result['examples_per_s']:.1f} ex/s  real/slots "
                      f"{result['padding_fraction']:.3f}  dev {result['dev']:.2f}", flush=True)
                self.results.setdefault("speed", []).append(result)

    def ner(self) -> None:
        ner_dir = os.path.join(self.data, "datasets", "msra_ner")
        train = head_rows(os.path.join(ner_dir, "test.tsv"), os.path.join(self.work, "ner_train.tsv"),
                          self.size["ner_train"])
        dev = head_rows(os.path.join(ner_dir, "dev.tsv"), os.path.join(self.work, "ner_dev.tsv"), self.size["ner_dev"])
        for seed in self.opts.ner_seeds:
            for order in self.opts.orders:
                m = run_measured(python_cmd(
                    "run_ner.py", "--vocab_path", self.vocab, "--config_path", self.config, "--train_path", train,
                    "--dev_path", dev, "--label2id_path", os.path.join(ner_dir, "label2id.json"),
                    "--seq_length", 128, "--batch_size", 32, "--learning_rate", "5e-4", "--warmup", 0.3,
                    "--epochs_num", self.size["ner_epochs"], "--report_steps", 100000, "--seed", seed,
                    *self.order_flags(order), "--output_model_path", os.path.join(self.work, "ner.bin")),
                    self.opts.timeout, self.env).check()
                text = m.stdout + m.stderr
                f1 = max(float(x[2]) for x in F1_LINE.findall(text))  # the best epoch, as the script keeps
                rates = [float(x.group(5)) for x in EPOCH_LINE.finditer(text)]
                result = {"order": order, "seed": seed, "f1": 100 * f1, "examples_per_s": statistics.median(rates)}
                print(f"ner    seed {seed}  {order:10s} F1 {result['f1']:.1f}  {result['examples_per_s']:.1f} ex/s",
                      flush=True)
                self.results.setdefault("ner", []).append(result)


    def pretrain(self) -> None:
        dataset = os.path.join(self.work, "pretrain_bert.uer")
        if not os.path.exists(dataset):
            run_measured(python_cmd("preprocess.py", "--corpus_path", os.path.join(self.data, "corpora",
                                                                                   "book_review_bert.txt"),
                                    "--vocab_path", self.vocab, "--dataset_path", dataset, "--target", "bert",
                                    "--seq_length", 128, "--dynamic_masking", "--no_progress"),
                         self.opts.timeout).check()
        for repeat in range(self.opts.speed_repeats):
            for order in self.opts.pretrain_orders:
                m = run_measured(python_cmd(
                    "benchmarks/pretrain_bench.py", "--dataset_path", dataset, "--vocab_path", self.vocab,
                    "--config_path", self.config, "--target", "bert", "--batch_size", 32, "--warmup_steps",
                    self.size["pretrain_warmup"], "--steps", self.size["pretrain_steps"], "--",
                    *self.order_flags(order)), self.opts.timeout).check()
                line = json.loads([x for x in m.stdout.splitlines() if x.startswith("{")][-1])
                result = {"order": order, "tokens_per_s": line["real_tokens_per_s"],
                          "peak_rss_mb": line["peak_rss_mb"]}
                print(f"pretrain {order:10s} {result['tokens_per_s']:.0f} real tokens/s  "
                      f"{result['peak_rss_mb']:.0f} MB", flush=True)
                self.results.setdefault("pretrain", []).append(result)


def summary(values: Sequence[float]) -> str:
    return f"{statistics.mean(values):.2f} [{min(values):.2f}-{max(values):.2f}]" if values else "-"


def report(results: Dict[str, List[dict]], orders: Sequence[str]) -> List[str]:
    lines = []
    if results.get("short"):
        seeds = sorted({r["seed"] for r in results["short"]})
        lines += ["### Short runs: Douban 4,000 train reviews, 1 epoch, test accuracy (%)", "",
                  "| seed | " + " | ".join(orders) + " | original UER-py |", "|---|" + "---|" * (len(orders) + 1)]
        for seed in seeds:
            cells = []
            for order in orders:
                found = [r for r in results["short"] if r["seed"] == seed and r["order"] == order]
                cells.append(f"{found[0]['test']:.2f}{' (collapsed)' if found[0]['collapsed'] else ''}"
                             if found else "")
            lines.append(f"| {seed} | " + " | ".join(cells) + f" | {ORIGINAL_SHORT.get(seed, '')} |")
        means = [summary([r["test"] for r in results["short"] if r["order"] == o]) for o in orders]
        lines.append("| mean [min-max] | " + " | ".join(means) +
                     f" | {statistics.mean(ORIGINAL_SHORT.values()):.2f} (seeds 1-3) |")
        rates = [f"{statistics.median([r['examples_per_s'] for r in results['short'] if r['order'] == o]):.1f}"
                 if any(r["order"] == o for r in results["short"]) else "-" for o in orders]
        lines += ["| examples/s (median) | " + " | ".join(rates) + " | |", ""]
    if results.get("speed"):
        lines += ["### Full Douban epoch (20,000 reviews), BERT-mini, batch 32", "",
                  "| order | examples/s (median) | vs bucketed | real tokens / padded slots | dev acc. |",
                  "|---|---|---|---|---|"]
        by_order: Dict[str, List[dict]] = {}
        for r in results["speed"]:
            by_order.setdefault(r["order"], []).append(r)
        base = statistics.median([r["examples_per_s"] for r in by_order.get("bucketed", [])] or [float("nan")])
        for order, rows in by_order.items():
            rate = statistics.median([r["examples_per_s"] for r in rows])
            lines.append(f"| {order} | {rate:.1f} | {rate / base:.2f}x | {rows[0]['padding_fraction']:.3f} | "
                         f"{statistics.mean([r['dev'] for r in rows]):.2f} |")
        lines.append("")
    if results.get("pretrain"):
        lines += ["### Pre-training BERT-mini --target bert, book reviews, batch 32", "",
                  "| order | real tokens/s (median) | vs bucketed | peak RSS MB |", "|---|---|---|---|"]
        by_order = {}
        for r in results["pretrain"]:
            by_order.setdefault(r["order"], []).append(r)
        base = statistics.median([r["tokens_per_s"] for r in by_order.get("bucketed", [])] or [float("nan")])
        for order, rows in by_order.items():
            rate = statistics.median([r["tokens_per_s"] for r in rows])
            lines.append(f"| {order} | {rate:.0f} | {rate / base:.2f}x | {max(r['peak_rss_mb'] for r in rows):.0f} |")
        lines.append("")
    if results.get("ner"):
        seeds = sorted({r["seed"] for r in results["ner"]})
        lines += ["### MSRA NER, 3 epochs, entity F1 (%)", "", "| seed | " + " | ".join(orders) + " |",
                  "|---|" + "---|" * len(orders)]
        for seed in seeds:
            cells = [next((f"{r['f1']:.1f}" for r in results["ner"] if r["seed"] == seed and r["order"] == o), "")
                     for o in orders]
            lines.append(f"| {seed} | " + " | ".join(cells) + " |")
        lines.append("| mean [min-max] | " + " | ".join(
            summary([r["f1"] for r in results["ner"] if r["order"] == o]) for o in orders) + " |")
        lines.append("| examples/s (median) | " + " | ".join(
            f"{statistics.median([r['examples_per_s'] for r in results['ner'] if r['order'] == o]):.1f}"
            for o in orders) + " |")
        lines.append("")
    return lines


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="short,speed,ner,pretrain")
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--seeds", default="1,2,3,4,5", help="Seeds of the short runs.")
    parser.add_argument("--ner_seeds", default="1,2,3")
    parser.add_argument("--orders", default="random,bucketed",
                        help="Orders compared: random (with --micro_batches), random:N (N micro-batches), bucketed.")
    parser.add_argument("--speed_orders", default="bucketed,random:1,random:2,random:4,random:6")
    parser.add_argument("--pretrain_orders", default="bucketed,random:1,random:4")
    parser.add_argument("--speed_repeats", type=int, default=1, help="Repeats of the speed and pretrain parts.")
    parser.add_argument("--micro_batches", type=int, default=4, help="Micro-batches of the 'random' order.")
    parser.add_argument("--data_dir", default=default_data_dir())
    parser.add_argument("--work_dir", default=None)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--threads", type=int, default=0, help="OMP_NUM_THREADS of each run (0: torch's default).")
    parser.add_argument("--results_json", default=None,
                        help="Keep the raw results: runs of the same part, order and seed replace the file's, "
                             "others are kept, so the parts and orders can be measured by separate commands.")
    parser.add_argument("--report_only", action="store_true", help="Print the tables of --results_json for --orders.")
    opts = parser.parse_args(argv)
    opts.seeds = [int(s) for s in opts.seeds.split(",")]
    opts.ner_seeds = [int(s) for s in opts.ner_seeds.split(",")]
    opts.orders = opts.orders.split(",")
    opts.speed_orders = opts.speed_orders.split(",")
    opts.pretrain_orders = opts.pretrain_orders.split(",")
    bench = Bench(opts)
    if opts.results_json and os.path.exists(opts.results_json):
        with open(opts.results_json, encoding="utf-8") as handle:
            bench.results = json.load(handle)
    print("machine:", json.dumps(machine_description()), flush=True)
    for part in [] if opts.report_only else opts.parts.split(","):
        if part not in ("short", "speed", "ner", "pretrain"):
            sys.exit(f"error: unknown part '{part}' (expected short, speed, ner, pretrain)")
        earlier = bench.results.get(part, [])
        bench.results[part] = []
        getattr(bench, part)()
        measured = {(r["order"], r.get("seed")) for r in bench.results[part]}
        bench.results[part] = [r for r in earlier if (r["order"], r.get("seed")) not in measured] + bench.results[part]
        if opts.results_json:
            with open(opts.results_json + ".tmp", "w", encoding="utf-8") as handle:
                json.dump(bench.results, handle, indent=1)
            os.replace(opts.results_json + ".tmp", opts.results_json)
    print("\n".join(report(bench.results, opts.orders)))


if __name__ == "__main__":
    main()
