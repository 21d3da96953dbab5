"""The fine-tuning epoch loop, shared by every task.

``fit`` trains any head whose ``forward(batch)`` returns a dict with ``loss`` (a mean), on any data
source with ``train_batches(batch_size, rng, order, micro_batches)`` (batches, each a list of
micro-batches), ``loss_weight(micro_batch)`` and ``collate(micro_batch) -> dict`` (a
:class:`~uer.finetune.inputs.TaskDataset` or :class:`~uer.finetune.inputs.MixedBatches`). The
micro-batches of a batch are weighted by their share of its loss and their gradients summed, so a
step is the step of the whole batch. After
each epoch ``evaluate(model) -> float`` runs on rank 0 and the best model so far is saved with
``save(model)``; the first epoch always saves, so a metric stuck at 0 still leaves a model.

Ctrl-C stops after the current step with a resumable state at ``<output_model_path>.state``
(model, optimizer, schedule, scaler, random generators, epoch and step, best metric so far);
``--resume auto`` (or ``--resume PATH``) continues as if never stopped, skipping the batches of
the interrupted epoch already trained on (each epoch's batch order follows from the seed).
"""
import logging
import math
import os
import random
from argparse import Namespace
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Tuple

import torch
import torch.nn as nn

from uer.embeddings.word_embedding import set_grads_in_place
from uer.finetune.batching import shard
from uer.finetune.progress import EpochProgress
from uer.finetune.session import to_device
from uer.model_saver import unwrap
from uer.training.compile import prepare_layers
from uer.training.interrupt import InterruptRequest, TrainingInterrupted
from uer.training.optimizers import build_optimizer, build_scheduler
from uer.utils.errors import UserInputError
from uer.training.runtime import (DIVERGENCE_ADVICE, DistContext, NonFiniteGuard, TrainingDiverged, autocast,
                                  barrier, gather_objects, gradient_sync, make_grad_scaler, parallelize,
                                  single_process_weights)
from uer.training.train_stats import memory_field, peak_device_memory
from uer.training.fsdp import is_sharded
from uer.training.train_state import load_train_state, rank_state, remove_state, restore_train_state, save_train_state

logger = logging.getLogger(__name__)


@dataclass
class FitResult:
    best_metric: Optional[float] = None
    best_epoch: int = 0
    steps: int = 0
    examples_per_second: List[float] = field(default_factory=list)  # training throughput per epoch


@dataclass
class FitPosition:
    """Where a fit stands (the data position of its training state): the epoch, the steps of that
    epoch already trained on, and the best metric so far."""

    epoch: int = 1
    step: int = 0
    best_metric: Optional[float] = None
    best_epoch: int = 0

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "step": self.step, "best_metric": self.best_metric, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.best_metric, self.best_epoch = state["best_metric"], int(state["best_epoch"])


def resume_path(args: Namespace, state_path: Optional[str]) -> Optional[str]:
    """``--resume PATH``, or ``--resume auto``: ``state_path`` when it exists (else start fresh)."""
    resume = getattr(args, "resume", None)
    if not resume:
        return None
    if resume != "auto":
        return resume
    if state_path and os.path.exists(state_path):
        return state_path
    logger.info("--resume auto: no training state at %s, starting from scratch", state_path)
    return None


def check_training_args(args: Namespace) -> None:
    for name in ("epochs_num", "batch_size", "report_steps", "micro_batches", "bucket_batches"):
        if getattr(args, name, 1) < 1:
            raise UserInputError(f"--{name} must be at least 1, got {getattr(args, name)}")


def epoch_batches(train_data: Any, args: Namespace, epoch: int, ctx: DistContext) -> List[Any]:
    """This rank's batches of ``epoch``: reshuffled every epoch, the same order on every rank."""
    rng = random.Random(args.seed * 1_000_003 + epoch)
    order = getattr(args, "batch_order", "random")
    micro_batches = getattr(args, "micro_batches", 1)
    bucket_batches = getattr(args, "bucket_batches", 100)
    return shard(train_data.train_batches(args.batch_size, rng, order, micro_batches, bucket_batches), ctx.rank,
                 ctx.world_size)


def backward_batch(wrapped: nn.Module, train_data: Any, pieces: List[Any], args: Namespace, ctx: DistContext,
                   scaler: Any) -> Tuple[torch.Tensor, int]:
    """Forward and backward over the micro-batches of one batch, each loss weighted by its share;
    DDP reduces gradients once, after the last. Returns the batch's loss (detached) and size."""
    weights = [float(train_data.loss_weight(piece)) for piece in pieces]
    total = sum(weights) or 1.0
    loss_sum = torch.zeros((), device=ctx.device)
    examples = 0
    for k, (piece, weight) in enumerate(zip(pieces, weights)):
        batch = to_device(train_data.collate(piece), ctx.device)
        with gradient_sync(wrapped, k == len(pieces) - 1):
            with autocast(args, ctx.device):
                loss = wrapped(batch)["loss"]
            share = loss if len(pieces) == 1 else loss * (weight / total)
            scaler.scale(share).backward()
        loss_sum += share.detach().float()
        examples += batch["src"].size(0)
    return loss_sum, examples


def fit(model: nn.Module, train_data: Any, args: Namespace, ctx: DistContext,
        evaluate: Optional[Callable[[nn.Module], float]] = None,
        save: Optional[Callable[[nn.Module], None]] = None,
        find_unused_parameters: bool = False, state_path: Optional[str] = None) -> FitResult:
    """Train ``model`` for ``args.epochs_num`` epochs (AdamW/scheduler from ``--optimizer``/
    ``--scheduler``, ``--fp16``/``--bf16`` autocast, clipping at ``--max_grad_norm``, DDP when
    launched with several processes). Without ``evaluate`` the final model is saved. Ctrl-C saves
    a resumable state at ``state_path`` (default ``<output_model_path>.state``) and raises
    TrainingInterrupted; ``--resume`` continues from it."""
    if state_path is None and getattr(args, "output_model_path", None):
        state_path = args.output_model_path + ".state"
    with InterruptRequest() as interrupt:
        result = _fit(model, train_data, args, ctx, evaluate, save, find_unused_parameters, state_path, interrupt)
    if ctx.is_main and state_path and os.path.lexists(state_path):
        remove_state(state_path)  # the run is complete: a later --resume auto must not go back to a stale state
    return result


def _fit(model: nn.Module, train_data: Any, args: Namespace, ctx: DistContext,
         evaluate: Optional[Callable[[nn.Module], float]], save: Optional[Callable[[nn.Module], None]],
         find_unused_parameters: bool, state_path: Optional[str], interrupt: InterruptRequest) -> FitResult:
    check_training_args(args)
    model.to(ctx.device)
    prepare_layers(model, args, ctx.device)
    first_epoch = epoch_batches(train_data, args, 1, ctx)
    total_steps = len(first_epoch) * args.epochs_num
    # FSDP shards the model in place: the optimizer is built on the shards, the state restored into them.
    wrapped = parallelize(model, ctx, find_unused_parameters=find_unused_parameters, args=args)
    every_rank = is_sharded(model)  # a sharded model's forward and its full weights need every rank
    optimizer = build_optimizer(model, args)
    scheduler = build_scheduler(optimizer, args, total_steps)
    scaler = make_grad_scaler(args, ctx.device)
    guard = NonFiniteGuard()
    result, position = FitResult(), FitPosition()
    resumed = resume_path(args, state_path)
    if resumed:
        result.steps = restore_train_state(load_train_state(resumed), ctx, model, optimizer, scheduler, scaler,
                                           position, args, source=resumed)
        result.best_metric, result.best_epoch = position.best_metric, position.best_epoch
        logger.info("resumed from %s: epoch %d after step %d", resumed, position.epoch, position.step)
    set_grads_in_place(model, single_process_weights(args, ctx))
    max_norm = getattr(args, "max_grad_norm", 0.0) or 0.0
    logger.info("training on %d examples: %d epochs of %d steps (batch size %d, %s order, %d process(es))",
                len(train_data), args.epochs_num, len(first_epoch), args.batch_size,
                getattr(args, "batch_order", "random"), ctx.world_size)
    for epoch in range(position.epoch, args.epochs_num + 1):
        batches = first_epoch if epoch == 1 else epoch_batches(train_data, args, epoch, ctx)
        trained = position.step if epoch == position.epoch else 0  # steps done before an interruption
        wrapped.train()
        progress = EpochProgress(len(batches), f"epoch {epoch}/{args.epochs_num}", enabled=ctx.is_main)
        running = torch.zeros((), device=ctx.device)
        running_steps = 0
        for step, item in enumerate(batches, start=1):
            if step <= trained:
                continue
            loss, examples = backward_batch(wrapped, train_data, item, args, ctx, scaler)
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
            running += loss
            running_steps += 1
            progress.update(examples, loss=None)
            if step % args.report_steps == 0 or step == len(batches):
                average = running.item() / running_steps
                if not math.isfinite(average) and not scaler.is_enabled():
                    raise TrainingDiverged(f"epoch {epoch}, step {step}: the training loss is {average}; "
                                           f"{DIVERGENCE_ADVICE}")
                if step % args.report_steps == 0:
                    logger.info("Epoch id: %d, Training steps: %d, Avg loss: %.3f", epoch, step, average)
                running.zero_()
                running_steps = 0
            if interrupt.agreed(step, args.report_steps, ctx):
                progress.close()
                position.epoch, position.step = epoch, step
                position.best_metric, position.best_epoch = result.best_metric, result.best_epoch
                save_fit_state(state_path, result.steps, model, optimizer, scheduler, scaler, position, args, ctx)
                raise TrainingInterrupted(f"interrupted at epoch {epoch}, step {step}: saved the training state "
                                          f"{state_path}; run the same command with --resume auto to continue")
        progress.close()
        # Every process trains on its own shard: throughput counts all of them.
        examples = progress.examples * ctx.world_size
        rate = examples / max(progress.elapsed, 1e-9)
        result.examples_per_second.append(rate)
        memory = memory_field(peak_device_memory(ctx.device))
        logger.info("epoch %d: %d steps, %d examples in %.1f s (%.1f examples/s)%s", epoch, len(batches),
                    examples, progress.elapsed, rate, f", {memory}" if memory else "")
        if evaluate is not None and (ctx.is_main or every_rank):
            metric = evaluate(unwrap(model))
            if every_rank:  # every rank evaluated the same weights on the same data; rank 0 decides
                metric = gather_objects(metric, ctx)[0]
            if result.best_metric is None or metric > result.best_metric:
                result.best_metric, result.best_epoch = metric, epoch
                if save is not None:
                    save(unwrap(model))
                    logger.info("epoch %d: best so far (%.4f), model saved", epoch, metric)
        barrier(ctx)
    if evaluate is None and save is not None:
        if ctx.is_main or every_rank:
            save(unwrap(model))
        barrier(ctx)
    return result


def save_fit_state(path: Optional[str], steps: int, model: nn.Module, optimizer: Any, scheduler: Any, scaler: Any,
                   position: FitPosition, args: Namespace, ctx: DistContext) -> None:
    """The resumable state of an interrupted fit (every rank writes its part; every rank's random state is in it)."""
    ranks = gather_objects(rank_state(ctx.device, position), ctx)
    if not path:
        raise TrainingInterrupted("interrupted: no --output_model_path to save a training state beside")
    save_train_state(path, steps, unwrap(model), optimizer, scheduler, scaler, ranks, args, ctx)
