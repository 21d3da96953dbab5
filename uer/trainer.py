"""Pre-training: one loop for every target (the target's dict of statistics drives the report).

Public API::

    pretraining_opts(parser)                  # the flags of pretrain.py besides the shared groups
    run_pretraining(args)                     # launch (one process, torchrun or --world_size spawn)
    Trainer(args, ctx, model, loader, ...).train()

Steps count micro-batches from 1 to ``--total_steps`` as in the original; with
``--accumulation_steps k`` the optimizer (and the learning-rate schedule, whose horizon is
``total_steps / k`` optimizer steps) advances every k-th step, and DDP all-reduces only then.
The loop makes one host sync per optimizer step (the finiteness of the gradient norm, which
decides whether the update is applied) and one per report; statistics stay on the device.
"""
import argparse
import itertools
import logging
import time
import warnings
from typing import Any, Dict, Iterable, Iterator, List, Optional

import torch
import torch.nn as nn

from uer.model_builder import build_model, with_vocab
from uer.model_loader import load_model, require_backbone
from uer.model_saver import save_model, unwrap
from uer.opts import batch_order_opts
from uer.targets.common import merge_micro_batch_stats, micro_batch_weights, weighted_loss
from uer.training.compile import prepare_layers
from uer.training.interrupt import InterruptRequest, TrainingInterrupted
from uer.training.optimizers import build_optimizer, build_scheduler
from uer.utils.errors import UserInputError
from uer.training.runtime import (DistContext, NonFiniteGuard, autocast, barrier, check_precision, gather_objects,
                                  gradient_sync, init_distributed, launch, make_grad_scaler, parallelize,
                                  setup_logging, shutdown, single_process_weights, uses_fsdp)
from uer.embeddings.word_embedding import set_grads_in_place
from uer.training.fsdp import is_sharded, local_value
from uer.utils.seed import set_seed
from uer.training.train_state import (checkpoint_path, load_train_state, prune_states, rank_state, resolve_resume,
                                   restore_train_state, save_train_state, state_path)
from uer.tokenizers.vocab import load_vocab_from_args
from uer.training.train_stats import StatsWindow, format_report, peak_device_memory

logger = logging.getLogger(__name__)


def pretraining_opts(parser: argparse.ArgumentParser) -> None:
    """pretrain.py's own flags (reference section 5.1) plus resuming."""
    group = parser.add_argument_group("pre-training")
    group.add_argument("--dataset_path", default="dataset.pt", help="Dataset written by preprocess.py.")
    group.add_argument("--pretrained_model_path", default=None, help="Initial weights (default: random init).")
    group.add_argument("--output_model_path", required=True, help="Checkpoints go to <path>-<step>.")
    group.add_argument("--tgt_vocab_path", default=None, help="Target vocabulary of seq2seq models.")
    group.add_argument("--tgt_spm_model_path", default=None)
    group.add_argument("--total_steps", type=int, default=100000, help="Micro-batches to train on (per process).")
    group.add_argument("--save_checkpoint_steps", type=int, default=10000)
    group.add_argument("--report_steps", type=int, default=100)
    group.add_argument("--accumulation_steps", type=int, default=1, help="Micro-batches per optimizer step.")
    group.add_argument("--batch_size", type=int, default=32, help="Instances per micro-batch and process.")
    group.add_argument("--instances_buffer_size", type=int, default=25600, help="Loader shuffle buffer.")
    group.add_argument("--seed", type=int, default=7)
    batch_order_opts(group)
    group.add_argument("--span_masking", action="store_true", help="Dynamic masking: mask spans (SpanBERT).")
    group.add_argument("--span_geo_prob", type=float, default=0.2)
    group.add_argument("--span_max_length", type=int, default=10)
    group.add_argument("--resume", default=None,
                       help="Continue from a training state <model>-<step>.state, or 'auto' = the latest one "
                            "beside --output_model_path.")
    group.add_argument("--keep_states", type=int, default=1,
                       help="Training states kept on disk (older ones are deleted; 0 keeps all).")


def check_plan(args: Any) -> None:
    """Reject step counts the loop cannot honour, before any work is done."""
    for name in ("total_steps", "report_steps", "save_checkpoint_steps", "accumulation_steps", "batch_size"):
        if getattr(args, name) < 1:
            raise UserInputError(f"--{name} must be at least 1, got {getattr(args, name)}")
    k = args.accumulation_steps
    # States are written at optimizer-step boundaries, so a resumed run never lacks half a gradient.
    for name in ("total_steps", "save_checkpoint_steps"):
        if getattr(args, name) % k:
            raise UserInputError(f"--{name} ({getattr(args, name)}) must be a multiple of --accumulation_steps ({k})")


def optimizer_steps(args: Any) -> int:
    """The schedule horizon: optimizer steps, not micro-steps."""
    return args.total_steps // args.accumulation_steps


def _to_device(batch: Dict[str, torch.Tensor], device: torch.device) -> Dict[str, torch.Tensor]:
    if device.type == "cpu":
        return batch
    return {key: value.to(device, non_blocking=True) for key, value in batch.items()}


class Trainer:
    """Runs micro-steps ``start_step + 1 .. total_steps``: forward, backward, optimizer step every
    ``accumulation_steps``, report every ``report_steps``, checkpoint + state every
    ``save_checkpoint_steps`` and at the last step."""

    def __init__(self, args: Any, ctx: DistContext, model: nn.Module, loader: Iterable[Dict[str, torch.Tensor]],
                 optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Optional[torch.amp.GradScaler] = None,
                 save_args: Optional[Any] = None, start_step: int = 0):
        self.args, self.ctx, self.model, self.loader = args, ctx, model, loader
        self.optimizer, self.scheduler = optimizer, scheduler
        self.scaler = scaler if scaler is not None else make_grad_scaler(args, ctx.device)
        self.save_args = save_args if save_args is not None else args
        self.step = start_step
        self.guard = NonFiniteGuard()
        self.params = [p for p in unwrap(model).parameters() if p.requires_grad]
        self.max_grad_norm = getattr(args, "max_grad_norm", 0.0) or 0.0
        self.last_lr = optimizer.param_groups[0]["lr"]  # the rate of the latest update, for the report
        self.last_report: Dict[str, Any] = {}
        self.interrupt = InterruptRequest()
        self.stopping = False

    def train(self, batches: Optional[Iterator[Dict[str, torch.Tensor]]] = None) -> None:
        """Ctrl-C (SIGINT) stops at the next optimizer step after saving the state (TrainingInterrupted)."""
        with self.interrupt:
            self._train(batches)

    def _train(self, batches: Optional[Iterator[Dict[str, torch.Tensor]]] = None) -> None:
        args, ctx = self.args, self.ctx
        batches = batches if batches is not None else iter(self.loader)
        accumulation = args.accumulation_steps
        window = StatsWindow(ctx.device)
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        window_start = time.perf_counter()
        if self.step >= args.total_steps:
            logger.info("already at step %d of --total_steps %d: nothing to train", self.step, args.total_steps)
        while self.step < args.total_steps:
            self.step += 1
            boundary = self.step % accumulation == 0
            item = next(batches)
            if isinstance(item, list):  # a batch served in length-sorted micro-batches
                self._backward_pieces(item, boundary, accumulation, window)
            else:
                batch = _to_device(item, ctx.device)
                with gradient_sync(self.model, boundary):
                    with autocast(args, ctx.device):
                        out = self.model(batch)
                    loss = out["loss"] if accumulation == 1 else out["loss"] / accumulation
                    self.scaler.scale(loss).backward()
                window.add(out, batch["seg"])
                del out, loss
            if boundary:
                self._optimizer_step()
            last = self.step == args.total_steps
            if self.step % args.report_steps == 0 or last:
                window_start = self._report(window, window_start)
            saved = self.step % args.save_checkpoint_steps == 0 or last
            if saved:
                saving = time.perf_counter()
                self.save()
                window_start += time.perf_counter() - saving  # tokens/s measures training only
            if self._stop_requested(boundary) and not last:
                if not saved:
                    self.save()
                raise TrainingInterrupted(f"interrupted at step {self.step}: saved "
                                          f"{checkpoint_path(args.output_model_path, self.step)} and its training "
                                          f"state; run the same command with --resume auto to continue")

    def _backward_pieces(self, pieces: List[Dict[str, torch.Tensor]], boundary: bool, accumulation: int,
                         window: StatsWindow) -> None:
        """Forward and backward over the micro-batches of one batch, each part's loss weighted by the
        micro-batch's share of its denominator: the gradients are those of the whole batch."""
        weights = micro_batch_weights(getattr(unwrap(self.model).target, "loss_labels", None), pieces)
        outs = []
        for k, (piece, weight) in enumerate(zip(pieces, weights)):
            piece = _to_device(piece, self.ctx.device)
            with gradient_sync(self.model, boundary and k == len(pieces) - 1):
                with autocast(self.args, self.ctx.device):
                    out = self.model(piece)
                loss = weighted_loss(out, weight) / accumulation
                self.scaler.scale(loss).backward()
            outs.append({key: value.detach() if torch.is_tensor(value) else value for key, value in out.items()})
            del out, loss
        window.add(merge_micro_batch_stats(outs, weights), torch.cat([p["seg"].reshape(-1) for p in pieces]))

    def _stop_requested(self, boundary: bool) -> bool:
        """After Ctrl-C (agreed by all ranks): stop at the first step that ends an optimizer step,
        where the state is whole."""
        self.stopping = self.stopping or self.interrupt.agreed(self.step, self.args.report_steps, self.ctx)
        return self.stopping and boundary

    def _grad_norm(self) -> torch.Tensor:
        if self.max_grad_norm > 0:
            return torch.nn.utils.clip_grad_norm_(self.params, self.max_grad_norm, foreach=True)
        if hasattr(torch.nn.utils, "get_total_norm"):
            return torch.nn.utils.get_total_norm([p.grad for p in self.params if p.grad is not None], foreach=True)
        return torch.nn.utils.clip_grad_norm_(self.params, float("inf"), foreach=True)

    def _optimizer_step(self) -> None:
        scaling = self.scaler.is_enabled()
        if scaling:
            self.scaler.unscale_(self.optimizer)
        finite = bool(torch.isfinite(local_value(self._grad_norm())))  # the loop's one sync per optimizer step
        if scaling:
            self.scaler.step(self.optimizer)  # skips the update itself on overflow
            self.scaler.update()
        elif finite:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.last_lr = self.optimizer.param_groups[0]["lr"]
        # The schedule advances even on a skipped update, so its horizon stays the run's length
        # (torch warns when that happens before any update was applied: expected here).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`")
            self.scheduler.step()
        self.guard.update(finite, self.step)

    def _report(self, window: StatsWindow, window_start: float) -> float:
        stats = window.reduce(self.ctx)  # all ranks take part in the sum
        now = time.perf_counter()
        self.last_report = stats
        if self.ctx.is_main and stats:
            elapsed = max(now - window_start, 1e-9)
            eta = elapsed / stats["steps"] * (self.args.total_steps - self.step)
            logger.info(format_report(self.step, self.args.total_steps, stats, elapsed, self.last_lr, eta,
                                      skipped=self.guard.pop_window(), scale=self._scale(),
                                      peak_memory=peak_device_memory(self.ctx.device)))
        window.reset()
        return time.perf_counter()

    def _scale(self) -> Optional[float]:
        return self.scaler.get_scale() if self.scaler.is_enabled() else None

    def save(self) -> None:
        """Model checkpoint ``<output_model_path>-<step>`` (+ sidecar) and its training state."""
        ranks = gather_objects(rank_state(self.ctx.device, self.loader), self.ctx)
        output = self.args.output_model_path
        if self.ctx.is_main or is_sharded(self.model):  # FSDP gathers the full weights from every rank
            save_model(self.model, checkpoint_path(output, self.step), self.save_args)
        # Every rank writes its part of the state (its optimizer shards under FSDP).
        save_train_state(state_path(output, self.step), self.step, self.model, self.optimizer, self.scheduler,
                         self.scaler, ranks, self.args, self.ctx)
        if not self.ctx.is_main:
            return
        prune_states(output, getattr(self.args, "keep_states", 1))
        logger.info("saved %s (training state: %s)", checkpoint_path(output, self.step), state_path(output, self.step))


def vocab_sizes(args: Any) -> tuple:
    """(source vocabulary size, target vocabulary size or None) from the vocabulary options."""
    vocab_size = len(load_vocab_from_args(args))
    has_target_vocab = getattr(args, "tgt_vocab_path", None) or getattr(args, "tgt_spm_model_path", None)
    return vocab_size, (len(load_vocab_from_args(args, "tgt_")) if has_target_vocab else None)


def build_pretrain_loader(args: Any, ctx: DistContext) -> Iterable[Dict[str, torch.Tensor]]:
    """This rank's endless stream of padded batch dicts from ``--dataset_path``."""
    from uer.data.loader import build_pretrain_loader as build

    return build(args, rank=ctx.rank, world_size=ctx.world_size)


def with_labels_num(args: Any, loader: Any) -> Any:
    """``--target cls``: the classes come from ``--labels_num`` or else from the dataset header."""
    if args.target != "cls":
        return args
    header = getattr(getattr(loader, "dataset", None), "header", None) or {}
    in_data = header.get("labels_num")
    if args.labels_num is None:
        if in_data is None:
            raise UserInputError("--target cls needs --labels_num")
        return argparse.Namespace(**{**vars(args), "labels_num": in_data})
    if in_data is not None and args.labels_num < in_data:
        raise UserInputError(f"--labels_num {args.labels_num}, but the dataset has labels up to {in_data - 1}",
                             path=getattr(args, "dataset_path", None))
    return args


def unused_parameters(model: nn.Module, batch: Any, args: Any, ctx: DistContext) -> List[str]:
    """Parameters that get no gradient from ``batch`` (a batch dict or its micro-batches; DDP must
    then look for unused ones every step, which costs a graph traversal, so it is only enabled when
    needed). Random state is kept."""
    with torch.random.fork_rng(devices=[ctx.device] if ctx.device.type == "cuda" else []):
        for piece in batch if isinstance(batch, list) else [batch]:
            with autocast(args, ctx.device):
                loss = model(_to_device(piece, ctx.device))["loss"]
            loss.backward()
    unused = [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]
    model.zero_grad(set_to_none=True)
    return unused


def pretrain_worker(args: Any) -> "Trainer":
    """One process of a pre-training run (the whole run without distribution); returns its trainer."""
    ctx = init_distributed(args)
    setup_logging(ctx)
    try:
        check_precision(args, ctx.device)
        loader = build_pretrain_loader(args, ctx)
        args = with_labels_num(args, loader)
        set_seed(args.seed)
        vocab_size, tgt_vocab_size = vocab_sizes(args)
        model = build_model(args, vocab_size, tgt_vocab_size)
        if args.pretrained_model_path:
            report = load_model(model, args.pretrained_model_path)
            require_backbone(report, args.pretrained_model_path)  # initialising a target may miss its head
            logger.info("initialised from %s: %s", args.pretrained_model_path, report.summary())
        model.to(ctx.device)
        prepare_layers(model, args, ctx.device)
        sharded = uses_fsdp(args, ctx)
        if sharded:  # FSDP shards in place and the optimizer must see the shards
            model = parallelize(model, ctx, args=args)
        optimizer = build_optimizer(model, args)
        scheduler = build_scheduler(optimizer, args, optimizer_steps(args))
        scaler = make_grad_scaler(args, ctx.device)
        if ctx.distributed:
            set_seed(args.seed + ctx.rank)  # independent dropout per rank; DDP keeps weights equal
        start_step = 0
        resume_path = resolve_resume(args.resume, args.output_model_path) if args.resume else None
        if resume_path:
            state = load_train_state(resume_path)
            start_step = restore_train_state(state, ctx, model, optimizer, scheduler, scaler, loader, args,
                                             source=resume_path)
            del state
            logger.info("resumed from %s at step %d", resume_path, start_step)
        batches: Iterator = iter(loader)
        if ctx.distributed and not sharded:
            first = next(batches)
            needs_search = any(gather_objects(bool(unused_parameters(model, first, args, ctx)), ctx))
            batches = itertools.chain([first], batches)
            model = parallelize(model, ctx, find_unused_parameters=needs_search, args=args)
        set_grads_in_place(unwrap(model), single_process_weights(args, ctx))
        params = sum(p.numel() for p in unwrap(model).parameters())
        logger.info("%s target, %.2fM parameters, %s x %d process(es)%s, %d instances per optimizer step",
                    args.target, params / 1e6, ctx.device.type, ctx.world_size, " (FSDP)" if sharded else "",
                    args.batch_size * ctx.world_size * args.accumulation_steps)
        trainer = Trainer(args, ctx, model, loader, optimizer, scheduler, scaler,
                          save_args=with_vocab(args, vocab_size, tgt_vocab_size), start_step=start_step)
        trainer.train(batches)
        # Ranks leave together (rank 0 may still be writing the last checkpoint) and DDP, whose reducer
        # holds the process group, goes before the group is destroyed: a rank tearing gloo down early
        # aborted at exit now and then ("terminate called without an active exception"). Every
        # reference goes, this function's own included; shutdown collects it before the group.
        barrier(ctx)
        trainer.model = model = unwrap(model)
        return trainer
    finally:
        shutdown(ctx)


def run_pretraining(args: Any) -> None:
    """Check the options, then run :func:`pretrain_worker` in every local process."""
    check_plan(args)
    launch(pretrain_worker, args)
