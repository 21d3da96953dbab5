"""Workers of the FSDP tests (importable, so that spawned processes can run them): the synthetic
pre-training run of ``tests.trainer_fixtures`` with a learnable batch stream, per-process memory
measured before the last optimizer step, the report losses written down, and a rank that kills
itself mid-run."""
import json
import os
import signal
from argparse import Namespace
from typing import Dict
from urllib.parse import urlparse

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


def jobs_worker(args) -> None:
    """Every run of ``args.jobs`` (resolved options of the same number of processes, each with its
    own --master_ip port), one after another in this rank's process: one start-up for them all."""
    for job in args.jobs:
        if job.world_size > 1:  # a single process runs in the caller's, which needs no rendezvous
            os.environ["MASTER_PORT"] = str(urlparse(job.master_ip).port)
        _patched_run(job)


def overflow_on_one_rank(rank: int, port: int, out_dir: str) -> None:
    """Two ranks shard a linear layer in float16; only rank 0's gradient shard overflows. Each rank
    writes whether its shard changed and the scale afterwards: both must skip and back off (the
    scaler's check on DTensor gradients is reduced over the ranks; a per-rank check would let
    rank 1 step alone)."""
    import torch.distributed as dist

    from uer.training.fsdp import shard_model
    from uer.training.runtime import make_grad_scaler

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        torch.manual_seed(0)
        model = shard_model(torch.nn.Sequential(torch.nn.Linear(4, 4)), 2, torch.float16)
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
        scaler = make_grad_scaler(Namespace(fp16=True, parallel="fsdp"), torch.device("cpu"))
        before = [p.to_local().clone() for p in model.parameters()]
        scaler.scale(model(torch.ones(2, 4)).float().sum() * 1e-3).backward()  # finite in float16
        if rank == 0:
            model[0].weight.grad.to_local()[0, 0] = float("inf")
        scaler.unscale_(optimizer)
        scaler.step(optimizer)
        scaler.update()
        changed = any(not torch.equal(b, p.to_local()) for b, p in zip(before, model.parameters()))
        with open(os.path.join(out_dir, f"overflow{rank}.json"), "w") as handle:
            json.dump({"changed": changed, "scale": scaler.get_scale()}, handle)
    finally:
        dist.destroy_process_group()
