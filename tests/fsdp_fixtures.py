"""Workers of the FSDP tests (importable, so that spawned processes can run them): the synthetic
pre-training run of ``tests.trainer_fixtures`` with a learnable batch stream, per-process memory
measured before the last optimizer step, the report losses written down, and a rank that kills
itself mid-run."""
import json
import os
import signal
from typing import Dict

import numpy as np
import torch

from tests.trainer_fixtures import VOCAB_SIZE, SyntheticLoader, synthetic_worker
from uer.training.fsdp import param_bytes


class LearnableLoader(SyntheticLoader):
    """``lm`` batches whose next token follows from the current one (token + 1 within the ids of
    w-tokens), so the loss falls within a few steps and a jump back would show."""

    def batch(self) -> Dict[str, torch.Tensor]:
        rng, b = self.rng, self.batch_size
        lengths = rng.integers(4, self.seq_length + 1, size=b)
        width = int(lengths.max())
        real = np.arange(width)[None, :] < lengths[:, None]
        start = rng.integers(5, VOCAB_SIZE, size=(b, 1))
        src = 5 + (start - 5 + np.arange(width)[None, :]) % (VOCAB_SIZE - 5)
        tgt = 5 + (src - 5 + 1) % (VOCAB_SIZE - 5)
        batch = {"src": np.where(real, src, 0), "seg": real.astype(np.int64), "tgt": np.where(real, tgt, 0)}
        return {key: torch.from_numpy(np.ascontiguousarray(value)).long() for key, value in batch.items()}


def _patched_run(args) -> None:
    """synthetic_worker with the hooks the FSDP tests ask for through ``args``."""
    import uer.trainer as trainer

    step, report, build = trainer.Trainer._optimizer_step, trainer.Trainer._report, trainer.build_pretrain_loader

    def optimizer_step(self):
        rank = self.ctx.rank
        if getattr(args, "kill_step", 0) == self.step and getattr(args, "kill_rank", 0) == rank:
            os.kill(os.getpid(), signal.SIGKILL)
        if self.step == args.total_steps and getattr(args, "dump_dir", None):
            with open(os.path.join(args.dump_dir, f"bytes{rank}.json"), "w") as handle:
                json.dump(param_bytes(self.model, self.optimizer), handle)
        return step(self)

    def reporting(self, window, start):
        result = report(self, window, start)
        if self.ctx.is_main and getattr(args, "dump_dir", None) and self.last_report:
            with open(os.path.join(args.dump_dir, "losses.jsonl"), "a") as handle:
                handle.write(json.dumps({"step": self.step, "loss": float(self.last_report["loss"])}) + "\n")
        return result

    def learnable(args, ctx):
        return LearnableLoader(args.target, batch_size=args.batch_size, seed=args.seed + 1000 * ctx.rank)

    trainer.Trainer._optimizer_step, trainer.Trainer._report = optimizer_step, reporting
    try:
        if args.target == "lm" and getattr(args, "learnable", False):
            trainer.build_pretrain_loader = learnable
            try:
                return trainer.pretrain_worker(args)
            finally:
                trainer.build_pretrain_loader = build
        return synthetic_worker(args)
    finally:
        trainer.Trainer._optimizer_step, trainer.Trainer._report = step, report


def fsdp_test_worker(args) -> None:
    _patched_run(args)
