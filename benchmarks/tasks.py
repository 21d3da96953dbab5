"""Fine-tuning and inference items (see parts.py for the store and the item keys).

Our side runs the real scripts (run_classifier.py, inference/run_classifier_infer.py) and reads
their log; the peer runs peer_hf.py. Both see the same (possibly subsampled) TSV files.
"""
import os
import re
from typing import Callable, Dict, List

from common import python_cmd, run_measured
from parts import Store, log, measure

EPOCH_LINE = re.compile(r"epoch (\d+): (\d+) steps, (\d+) examples in ([\d.]+) s \(([\d.]+) examples/s\)")
ACC_LINE = re.compile(r"Acc\. \(Correct/Total\): ([\d.]+)")


def parse_run_classifier(log_text: str) -> Dict[str, object]:
    """Per-epoch (seconds, examples/s), dev accuracies (one per epoch) and the test accuracy."""
    head, _, tail = log_text.partition("Test set evaluation")
    epochs = [(float(m.group(4)), float(m.group(5))) for m in EPOCH_LINE.finditer(head)]
    dev = [float(x) for x in ACC_LINE.findall(head)]
    test = ACC_LINE.findall(tail)
    return {"epochs": epochs, "dev": dev, "test": float(test[0]) if test else None}


def add_epochs(store: Store, item: str, epochs: List[tuple], dev: List[float], test) -> None:
    """Examples/s: the median epoch; epoch time: the first epoch; dev: the best epoch."""
    rates = sorted(rate for _, rate in epochs)
    store.add(item, "examples_per_s", rates[len(rates) // 2] if rates else None)
    store.add(item, "epoch_s", epochs[0][0] if epochs else None)
    store.add(item, "dev_acc", 100 * max(dev) if dev else None)
    store.add(item, "test_acc", 100 * test if test is not None else None)


def finetune_items(ctx) -> Dict[str, Callable[[Store], None]]:
    s = ctx.size
    files = ctx.finetune_files()

    def ours(store: Store, item: str, extra: List[str], output: str) -> None:
        m = measure(store, item, python_cmd(
            "run_classifier.py", "--vocab_path", ctx.vocab, "--train_path", files["train"], "--dev_path",
            files["dev"], "--test_path", files["test"], "--seq_length", 128, "--report_steps", 100000,
            "--output_model_path", ctx.work(output), *extra), ctx.timeout)
        parsed = parse_run_classifier(m.stdout + m.stderr)
        add_epochs(store, item, parsed["epochs"], parsed["dev"], parsed["test"])

    def bert_ours(store: Store) -> None:
        ours(store, "ft_bert_ours", ["--config_path", ctx.bert_config, "--batch_size", 32, "--learning_rate",
                                     "1e-4", "--epochs_num", s["bert_epochs"]], "ours_bert.bin")

    def lstm_ours(store: Store) -> None:
        ours(store, "ft_lstm_ours", ["--config_path", ctx.lstm_config, "--embedding", "word", "--encoder", "lstm",
                                     "--pooling", "mean", "--batch_size", 64, "--learning_rate", "1e-3",
                                     "--epochs_num", s["lstm_epochs"]], "ours_lstm.bin")

    def peer(store: Store, padding: str) -> None:
        item = f"ft_bert_hf_{'padded' if padding == 'max_length' else 'bucket'}"
        m = measure(store, item, python_cmd(
            "benchmarks/peer_hf.py", "finetune", "--vocab_path", ctx.vocab, "--config_path", ctx.bert_config,
            "--train_path", files["train"], "--dev_path", files["dev"], "--test_path", files["test"],
            "--padding", padding, "--batch_size", 32, "--learning_rate", "1e-4", "--epochs_num", s["bert_epochs"],
            "--save_dir", ctx.work(f"hf_{padding}")), ctx.timeout)
        result = m.result()
        epochs = [(e["seconds"], e["examples_per_s"]) for e in result["epochs"]]
        add_epochs(store, item, epochs, [e["dev_acc"] for e in result["epochs"]], result.get("test_acc"))

    return {"ft_bert_ours": bert_ours, "ft_bert_hf_padded": lambda st: peer(st, "max_length"),
            "ft_bert_hf_bucket": lambda st: peer(st, "bucket"), "ft_lstm_ours": lstm_ours}


def prediction_accuracy(prediction_path: str, gold_path: str) -> float:
    """Share of predicted labels equal to the gold file's (same texts, same order), in percent."""
    with open(prediction_path, encoding="utf-8") as handle:
        predicted = [line.split("\t")[0].strip() for line in handle.read().splitlines()[1:]]
    with open(gold_path, encoding="utf-8") as handle:
        rows = handle.read().splitlines()
    column = rows[0].split("\t").index("label")
    gold = [row.split("\t")[column] for row in rows[1:]]
    return 100.0 * sum(p == g for p, g in zip(predicted, gold)) / max(1, len(gold))


def inference_models(ctx) -> Dict[str, str]:
    """A fine-tuned classifier per side: the finetune part's when it ran, else a quick throwaway one
    (speed does not depend on the weights; prediction accuracy then means nothing)."""
    ours, peer = ctx.work("ours_bert.bin"), ctx.work("hf_bucket")
    if not os.path.exists(ours) or not os.path.exists(peer):
        files = ctx.finetune_files(quick=True)
        log("no fine-tuned models from the finetune part: training throwaway ones on 64 examples")
    if not os.path.exists(ours):
        run_measured(python_cmd("run_classifier.py", "--vocab_path", ctx.vocab, "--config_path", ctx.bert_config,
                                "--train_path", files["train"], "--dev_path", files["dev"], "--epochs_num", 1,
                                "--output_model_path", ours), timeout_s=ctx.timeout).check()
    if not os.path.exists(peer):
        run_measured(python_cmd("benchmarks/peer_hf.py", "finetune", "--vocab_path", ctx.vocab, "--config_path",
                                ctx.bert_config, "--train_path", files["train"], "--dev_path", files["dev"],
                                "--save_dir", peer), timeout_s=ctx.timeout).check()
    return {"ours": ours, "peer": peer}


def inference_items(ctx) -> Dict[str, Callable[[Store], None]]:
    files = ctx.inference_files()

    def run(store: Store, item: str, cmd: List[str], prediction: str) -> None:
        m = measure(store, item, cmd, ctx.timeout)
        result = m.result()
        store.add(item, "whole_examples_per_s", result["examples"] / m.wall_s)
        store.add(item, "loop_examples_per_s", result["examples_per_s"])
        store.add(item, "prediction_acc", prediction_accuracy(prediction, files["gold"]))
        store.meta(item, examples=result["examples"])

    def ours(store: Store) -> None:
        model, prediction = inference_models(ctx)["ours"], ctx.work("ours_prediction.tsv")
        run(store, "inf_ours", python_cmd("benchmarks/ours.py", "infer", "--load_model_path", model, "--vocab_path",
                                          ctx.vocab, "--test_path", files["test"], "--prediction_path", prediction),
            prediction)

    def peer(store: Store) -> None:
        model, prediction = inference_models(ctx)["peer"], ctx.work("peer_prediction.tsv")
        run(store, "inf_peer", python_cmd("benchmarks/peer_hf.py", "infer", "--model_dir", model, "--test_path",
                                          files["test"], "--prediction_path", prediction), prediction)

    return {"inf_ours": ours, "inf_peer": peer}
