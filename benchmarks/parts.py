"""The measured items of each part. Every item runs in a fresh process (see common.run_measured)
and adds its figures to a :class:`Store`: ``store.add(item, metric, value)``; repeats append.

Item keys (``--items`` filters on them):
  preprocess: pp_bert_ours, pp_bert_peer, pp_mlm_ours, pp_mlm_peer, pp_bert10x_ours, pp_bert10x_peer
  pretrain:   pt_bert_ours, pt_bert_peer, pt_mlm_ours, pt_mlm_peer, pt_lm_ours, pt_lm_peer
  finetune:   ft_bert_ours, ft_bert_hf_padded, ft_bert_hf_bucket, ft_lstm_ours
  inference:  inf_ours, inf_peer
  ceiling:    ceiling
"""
import json
import os
import re
import sys
from typing import Callable, Dict, List, Optional

from common import BENCH_DIR, Measured, python_cmd, run_measured


class Store:
    """Raw figures: ``{item: {"metrics": {metric: [values]}, "meta": {...}}}`` (JSON-serialisable)."""

    def __init__(self, data: Optional[Dict] = None):
        self.data: Dict = data if data is not None else {}

    def add(self, item: str, metric: str, value: Optional[float]) -> None:
        if value is not None:
            self.data.setdefault(item, {"metrics": {}, "meta": {}})["metrics"].setdefault(metric, []).append(value)

    def meta(self, item: str, **values) -> None:
        self.data.setdefault(item, {"metrics": {}, "meta": {}})["meta"].update(values)

    def values(self, item: str, metric: str) -> List[float]:
        return self.data.get(item, {}).get("metrics", {}).get(metric, [])

    def reset(self, item: str) -> None:
        self.data.pop(item, None)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def measure(store: Store, item: str, cmd: List[str], timeout_s: float) -> Measured:
    log(f"{item}: {' '.join(os.path.basename(c) if i < 2 else c for i, c in enumerate(cmd))}")
    measured = run_measured(cmd, timeout_s=timeout_s).check()
    store.add(item, "wall_s", measured.wall_s)
    store.add(item, "peak_rss_mb", measured.peak_rss_mb)
    store.meta(item, load_average=round(os.getloadavg()[0], 2))
    return measured


# ------------------------------------------------------------------------------------------------ preprocess
def preprocess_items(ctx) -> Dict[str, Callable[[Store], None]]:
    corpora = {"bert": ctx.corpus("book_review_bert.txt"), "mlm": ctx.corpus("book_review.txt"),
               "bert10x": ctx.repeated_corpus("book_review_bert.txt", 10)}
    items = {}
    for name, corpus in corpora.items():
        target = "mlm" if name == "mlm" else "bert"

        def ours(store: Store, name=name, corpus=corpus, target=target) -> None:
            out = ctx.work(f"pp_{name}.uer")
            m = measure(store, f"pp_{name}_ours", python_cmd(
                "preprocess.py", "--corpus_path", corpus, "--vocab_path", ctx.vocab, "--dataset_path", out,
                "--target", target, "--processes_num", ctx.opts.processes_num, "--seq_length", 128,
                "--no_progress"), ctx.timeout)
            found = re.search(r"wrote (\d+) instances", m.stdout + m.stderr)
            store.add(f"pp_{name}_ours", "instances", int(found.group(1)) if found else None)
            store.add(f"pp_{name}_ours", "output_mb", os.path.getsize(out) / 1e6)
            os.remove(out)

        def peer(store: Store, name=name, corpus=corpus) -> None:
            out = ctx.work(f"pp_{name}.npz")
            m = measure(store, f"pp_{name}_peer", python_cmd(
                "benchmarks/peer_hf.py", "preprocess", "--corpus_path", corpus, "--vocab_path", ctx.vocab,
                "--output_path", out), ctx.timeout)
            store.add(f"pp_{name}_peer", "instances", m.result()["instances"])
            store.add(f"pp_{name}_peer", "output_mb", os.path.getsize(out) / 1e6)
            os.remove(out)

        items[f"pp_{name}_ours"], items[f"pp_{name}_peer"] = ours, peer
    return items


# ------------------------------------------------------------------------------------------------ pretrain
def pretrain_dataset(ctx, target: str) -> str:
    """The dataset our loader serves to both sides (dynamically masked for bert/mlm); built once."""
    path = ctx.work(f"pretrain_{target}.uer")
    if not os.path.exists(path):
        corpus = ctx.corpus("book_review_bert.txt" if target == "bert" else "book_review.txt")
        flags = ["--dynamic_masking"] if target in ("bert", "mlm") else []
        log(f"building the {target} pre-training dataset")
        run_measured(python_cmd("preprocess.py", "--corpus_path", corpus, "--vocab_path", ctx.vocab,
                                "--dataset_path", path, "--target", target, "--seq_length", 128,
                                "--processes_num", ctx.opts.processes_num, "--no_progress", *flags),
                     timeout_s=ctx.timeout).check()
    return path


def pretrain_items(ctx) -> Dict[str, Callable[[Store], None]]:
    items = {}
    for target in ("bert", "mlm", "lm"):
        config = ctx.lstm_config if target == "lm" else ctx.bert_config
        common_args = ["--config_path", config, "--target", target, "--batch_size", ctx.pretrain_batch,
                       "--warmup_steps", ctx.opts.warmup_steps, "--steps", ctx.opts.steps]

        def ours(store: Store, target=target, common_args=common_args) -> None:
            item = f"pt_{target}_ours"
            # Both sides read the same bucketed batches: this compares the training step itself
            # (benchmarks/batch_order.py measures the batch orders).
            m = measure(store, item, python_cmd("benchmarks/pretrain_bench.py", "--dataset_path",
                                                pretrain_dataset(ctx, target), "--vocab_path", ctx.vocab,
                                                *common_args, "--", "--batch_order", "bucketed"), ctx.timeout)
            line = [x for x in m.stdout.splitlines() if x.startswith("{")][-1]
            record(store, item, json.loads(line))

        def peer(store: Store, target=target, common_args=common_args) -> None:
            item = f"pt_{target}_peer"
            m = measure(store, item, python_cmd("benchmarks/peer_hf.py", "pretrain", "--dataset_path",
                                                pretrain_dataset(ctx, target), *common_args), ctx.timeout)
            record(store, item, m.result())

        items[f"pt_{target}_ours"], items[f"pt_{target}_peer"] = ours, peer
    return items


def record(store: Store, item: str, result: Dict) -> None:
    for key in ("real_tokens_per_s", "s_per_step", "real_tokens_per_step"):
        store.add(item, key, result.get(key))


# ------------------------------------------------------------------------------------------------ ceiling
def ceiling_items(ctx) -> Dict[str, Callable[[Store], None]]:
    def ceiling(store: Store) -> None:
        s = ctx.size
        m = measure(store, "ceiling", python_cmd(
            os.path.join(BENCH_DIR, "ceiling.py"), "--config_path", ctx.bert_config, "--vocab_size", ctx.vocab_size,
            "--batch_size", ctx.pretrain_batch, "--seq_length", s["ceiling_seq"], "--warmup_steps",
            s["ceiling_warmup"], "--steps", s["ceiling_steps"], "--matmul_seconds", s["matmul_seconds"]),
            ctx.timeout)
        for key, value in m.result().items():
            if key not in ("peak_rss_mb", "threads"):
                store.add("ceiling", key, value)

    return {"ceiling": ceiling}
