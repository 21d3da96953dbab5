"""Shared fixtures of the trainer tests: a tiny config, a vocabulary and a synthetic resumable
loader yielding the batch dicts of docs/architecture.md for every target."""
import json
import os
from argparse import Namespace
from typing import Dict, Iterator, List

import numpy as np
import torch

from tests.conftest import load_script
from uer.model_saver import unwrap
from uer.trainer import check_plan
from uer.utils.config import parse_args

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

VOCAB_SIZE = 99
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TINY = {"emb_size": 32, "hidden_size": 32, "feedforward_size": 64, "heads_num": 4, "layers_num": 2,
        "dropout": 0.1, "max_seq_length": 64, "hidden_act": "gelu", "layernorm_eps": 1e-12}


def write_tiny_files(directory: str) -> Dict[str, str]:
    os.makedirs(directory, exist_ok=True)
    vocab = os.path.join(directory, "vocab.txt")
    with open(vocab, "w", encoding="utf-8") as handle:
        handle.write("\n".join(SPECIALS + [f"w{i}" for i in range(VOCAB_SIZE - len(SPECIALS))]) + "\n")
    config = os.path.join(directory, "tiny_config.json")
    with open(config, "w", encoding="utf-8") as handle:
        json.dump(TINY, handle)
    return {"vocab": vocab, "config": config}


def pretrain_argv(directory: str, target: str = "bert", *extra: str) -> List[str]:
    files = write_tiny_files(directory)
    argv = ["--vocab_path", files["vocab"], "--config_path", files["config"], "--target", target,
            "--output_model_path", os.path.join(directory, "model.bin"), "--dataset_path", "unused",
            "--batch_size", "4", "--learning_rate", "1e-3", "--report_steps", "2", "--device", "cpu"]
    if target == "cls":
        argv += ["--labels_num", "3"]
    if target in ("seq2seq", "t5"):
        argv += ["--tgt_embedding", "word_pos"]
    if target in ("lm", "prefixlm"):
        argv += ["--mask", "causal" if target == "lm" else "causal_with_prefix"]
    return argv + list(extra)


def pretrain_script():
    """The top-level pretrain.py as a module (it is a script, not part of the package)."""
    return load_script("pretrain.py")


def parse(directory: str, target: str = "bert", *extra: str) -> Namespace:
    """Resolved pretrain.py options for a tiny model in ``directory``."""
    args = parse_args(pretrain_script().build_parser(), pretrain_argv(directory, target, *extra))
    check_plan(args)
    return args


class SyntheticLoader:
    """Endless random batches padded to the longest instance; resumable via ``state_dict``."""

    def __init__(self, target: str, batch_size: int = 4, seq_length: int = 12, seed: int = 0,
                 labels_num: int = 3, stop_after: int = 0, micro_batches: int = 0):
        self.target, self.batch_size, self.seq_length = target, batch_size, seq_length
        self.labels_num = labels_num
        self.micro_batches = micro_batches  # > 0: serve each batch as that many micro-batches, as the loader does
        self.stop_after = stop_after  # > 0: simulate a crash when that many batches were served
        self.served = 0
        self.rng = np.random.default_rng(seed)

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    def __iter__(self) -> Iterator[Dict[str, torch.Tensor]]:
        while True:
            if self.stop_after and self.served == self.stop_after:
                raise KeyboardInterrupt("simulated interruption")
            self.served += 1
            batch = self.batch()
            yield as_micro_batches(batch, self.micro_batches) if self.micro_batches else batch

    def batch(self) -> Dict[str, torch.Tensor]:
        rng, b = self.rng, self.batch_size
        lengths = rng.integers(4, self.seq_length + 1, size=b)
        width = int(lengths.max())
        real = np.arange(width)[None, :] < lengths[:, None]
        src = np.where(real, rng.integers(5, VOCAB_SIZE, size=(b, width)), 0)
        seg = real.astype(np.int64)
        if self.target in ("bert", "albert"):
            seg = np.where(real & (np.arange(width)[None, :] >= lengths[:, None] // 2), 2, seg)
        batch = {"src": src, "seg": seg}
        if self.target in ("mlm", "bert", "albert"):
            chosen = real & (rng.random((b, width)) < 0.2)
            chosen[:, 1] = True
            batch["tgt_mlm"] = np.where(chosen, src, 0)
            batch["src"] = np.where(chosen, 4, src)
            if self.target != "mlm":
                batch["is_next"] = rng.integers(0, 2, size=b)
        elif self.target in ("lm", "prefixlm"):
            batch["tgt"] = np.where(real, np.roll(src, -1, axis=1), 0)
            if self.target == "prefixlm":
                batch["seg"] = np.where(real & (np.arange(width)[None, :] >= 2), 2, seg)
        elif self.target == "bilm":
            batch["tgt_forward"] = np.where(real, np.roll(src, -1, axis=1), 0)
            batch["tgt_backward"] = np.where(real, np.roll(src, 1, axis=1), 0)
        elif self.target == "cls":
            batch["tgt"] = rng.integers(0, self.labels_num, size=b)
        elif self.target in ("seq2seq", "t5"):
            tgt = rng.integers(5, VOCAB_SIZE, size=(b, 6))
            batch["tgt_in"], batch["tgt_out"] = tgt, np.roll(tgt, -1, axis=1)
            batch["tgt_seg"] = np.ones_like(tgt)
        return {key: torch.from_numpy(np.ascontiguousarray(value)).long() for key, value in batch.items()}


def trimmed_rows(batch: Dict[str, torch.Tensor], rows: torch.Tensor) -> Dict[str, torch.Tensor]:
    """The rows of a padded batch, cut to their own longest source (as the loader pads a micro-batch)."""
    width = int((batch["seg"][rows] > 0).sum(1).max())
    return {key: value[rows][:, :width] if value.dim() == 2 and value.shape[1] == batch["src"].shape[1]
            else value[rows] for key, value in batch.items()}


def as_micro_batches(batch: Dict[str, torch.Tensor], pieces: int) -> List[Dict[str, torch.Tensor]]:
    """``batch`` sorted by length and cut into ``pieces`` micro-batches, each padded to its longest."""
    order = torch.argsort((batch["seg"] > 0).sum(1), stable=True)
    return [trimmed_rows(batch, rows) for rows in torch.tensor_split(order, pieces) if len(rows)]


def synthetic_worker(args) -> None:
    """pretrain_worker with the synthetic loader (importable, so spawned processes can run it)."""
    import uer.trainer as trainer

    def build(args, ctx):
        return SyntheticLoader(args.target, batch_size=args.batch_size, seed=args.seed + 1000 * ctx.rank,
                               labels_num=args.labels_num or 3, stop_after=getattr(args, "stop_after", 0),
                               micro_batches=getattr(args, "synthetic_micro_batches", 0))

    original, trainer.build_pretrain_loader = trainer.build_pretrain_loader, build
    try:
        return trainer.pretrain_worker(args)
    finally:  # later tests (tests/test_pretrain.py) need the real loader
        trainer.build_pretrain_loader = original


def dumping_worker(args) -> None:
    """synthetic_worker, then every rank writes its final weights to ``<args.dump_dir>/rank<r>.pt``."""
    result = synthetic_worker(args)
    weights = {key: value.clone() for key, value in unwrap(result.model).state_dict().items()}
    torch.save(weights, os.path.join(args.dump_dir, f"rank{result.ctx.rank}.pt"))
