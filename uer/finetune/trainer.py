"""The fine-tuning epoch loop, shared by every task.

``fit`` trains any head whose ``forward(batch)`` returns a dict with ``loss``, on any data source
with ``train_batches(batch_size, rng) -> list`` and ``collate(item) -> dict`` (a
:class:`~uer.finetune.inputs.TaskDataset` or :class:`~uer.finetune.inputs.MixedBatches`). After
each epoch ``evaluate(model) -> float`` runs on rank 0 and the best model so far is saved with
``save(model)``; the first epoch always saves, so a metric stuck at 0 still leaves a model.
"""
import logging
import math
import random
from argparse import Namespace
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional

import torch
import torch.nn as nn

from uer.finetune.batching import shard
from uer.finetune.progress import EpochProgress
from uer.finetune.session import to_device
from uer.model_saver import unwrap
from uer.utils.errors import UserInputError
from uer.utils.optimizers import build_optimizer, build_scheduler
from uer.utils.runtime import (DIVERGENCE_ADVICE, DistContext, NonFiniteGuard, TrainingDiverged, autocast,
                               barrier, make_grad_scaler, parallelize)

logger = logging.getLogger(__name__)


@dataclass
class FitResult:
    best_metric: Optional[float] = None
    best_epoch: int = 0
    steps: int = 0
    examples_per_second: List[float] = field(default_factory=list)  # training throughput per epoch


def check_training_args(args: Namespace) -> None:
    for name in ("epochs_num", "batch_size", "report_steps"):
        if getattr(args, name) < 1:
            raise UserInputError(f"--{name} must be at least 1, got {getattr(args, name)}")


def epoch_batches(train_data: Any, args: Namespace, epoch: int, ctx: DistContext) -> List[Any]:
    """This rank's batches of ``epoch``: reshuffled every epoch, the same order on every rank."""
    rng = random.Random(args.seed * 1_000_003 + epoch)
    return shard(train_data.train_batches(args.batch_size, rng), ctx.rank, ctx.world_size)


def fit(model: nn.Module, train_data: Any, args: Namespace, ctx: DistContext,
        evaluate: Optional[Callable[[nn.Module], float]] = None,
        save: Optional[Callable[[nn.Module], None]] = None,
        find_unused_parameters: bool = False) -> FitResult:
    """Train ``model`` for ``args.epochs_num`` epochs (AdamW/scheduler from ``--optimizer``/
    ``--scheduler``, ``--fp16``/``--bf16`` autocast, clipping at ``--max_grad_norm``, DDP when
    launched with several processes). Without ``evaluate`` the final model is saved."""
    check_training_args(args)
    model.to(ctx.device)
    first_epoch = epoch_batches(train_data, args, 1, ctx)
    total_steps = len(first_epoch) * args.epochs_num
    optimizer = build_optimizer(model, args)
    scheduler = build_scheduler(optimizer, args, total_steps)
    scaler = make_grad_scaler(args, ctx.device)
    guard = NonFiniteGuard()
    wrapped = parallelize(model, ctx, find_unused_parameters=find_unused_parameters)
    max_norm = getattr(args, "max_grad_norm", 0.0) or 0.0
    result = FitResult()
    logger.info("training on %d examples: %d epochs of %d steps (batch size %d, %d process(es))",
                len(train_data), args.epochs_num, len(first_epoch), args.batch_size, ctx.world_size)
    for epoch in range(1, args.epochs_num + 1):
        batches = first_epoch if epoch == 1 else epoch_batches(train_data, args, epoch, ctx)
        wrapped.train()
        progress = EpochProgress(len(batches), f"epoch {epoch}/{args.epochs_num}", enabled=ctx.is_main)
        running = torch.zeros((), device=ctx.device)
        running_steps = 0
        for step, item in enumerate(batches, start=1):
            batch = to_device(train_data.collate(item), ctx.device)
            with autocast(args, ctx.device):
                loss = wrapped(batch)["loss"]
            scaler.scale(loss).backward()
            if max_norm > 0:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            if scaler.is_enabled():
                scale = scaler.get_scale()
                scaler.step(optimizer)
                scaler.update()
                guard.update(scaler.get_scale() >= scale, result.steps + 1)
            else:
                optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            result.steps += 1
            running += loss.detach().float()
            running_steps += 1
            progress.update(batch["src"].size(0), loss=None)
            if step % args.report_steps == 0 or step == len(batches):
                average = running.item() / running_steps
                if not math.isfinite(average) and not scaler.is_enabled():
                    raise TrainingDiverged(f"epoch {epoch}, step {step}: the training loss is {average}; "
                                           f"{DIVERGENCE_ADVICE}")
                if step % args.report_steps == 0:
                    logger.info("Epoch id: %d, Training steps: %d, Avg loss: %.3f", epoch, step, average)
                running.zero_()
                running_steps = 0
        progress.close()
        # Every process trains on its own shard: throughput counts all of them.
        examples = progress.examples * ctx.world_size
        rate = examples / max(progress.elapsed, 1e-9)
        result.examples_per_second.append(rate)
        logger.info("epoch %d: %d steps, %d examples in %.1f s (%.1f examples/s)", epoch, len(batches),
                    examples, progress.elapsed, rate)
        if evaluate is not None and ctx.is_main:
            metric = evaluate(unwrap(model))
            if result.best_metric is None or metric > result.best_metric:
                result.best_metric, result.best_epoch = metric, epoch
                if save is not None:
                    save(unwrap(model))
                    logger.info("epoch %d: best so far (%.4f), model saved", epoch, metric)
        barrier(ctx)
    if evaluate is None and save is not None:
        if ctx.is_main:
            save(unwrap(model))
        barrier(ctx)
    return result
