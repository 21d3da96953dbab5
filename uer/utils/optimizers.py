"""Optimizers (``--optimizer``) and learning-rate schedules (``--scheduler``), shared by
pre-training and fine-tuning.

Public API::

    optimizer = build_optimizer(model, args)                 # args: learning_rate, weight_decay, optimizer
    scheduler = build_scheduler(optimizer, args, total_steps)  # args: scheduler, warmup (fraction)
    # call scheduler.step() once per *optimizer* step; total_steps = optimizer steps of the run

Weight decay is chosen by tensor rank, as nanoGPT does: matrices and embeddings (dim >= 2)
decay, biases and norm gains (dim < 2) do not. (The original UER-py put the decay under a key the
optimizer never read, so nothing decayed.)
"""
import inspect
import logging
import math
from argparse import Namespace
from typing import Callable, Dict, List

import torch
import torch.nn as nn
from torch.optim.lr_scheduler import LambdaLR

from uer.registry import Registry
from uer.utils.adafactor import Adafactor

logger = logging.getLogger(__name__)

OPTIMIZERS = Registry("optimizer")
SCHEDULERS = Registry("scheduler")

# Floor of the polynomial schedule, as in the reference (HF's lr_end default).
POLYNOMIAL_LR_END = 1e-7


def param_groups(model: nn.Module, weight_decay: float) -> List[Dict]:
    """Two groups: tensors with dim >= 2 decay, the rest (biases, LayerNorm gamma/beta) do not.

    Tied parameters appear once (``named_parameters`` de-duplicates shared tensors).
    """
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        if param.requires_grad:
            (decay if param.dim() >= 2 else no_decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [group for group in groups if group["params"]]


def _fast_adamw_kwargs(params: List[torch.Tensor]) -> Dict[str, bool]:
    """``fused=True`` when every parameter sits on a device with a fused kernel (CUDA, CPU in
    recent torch), else the multi-tensor ``foreach`` path; both beat the per-tensor loop."""
    if "fused" in inspect.signature(torch.optim.AdamW).parameters:
        devices = {p.device.type for p in params}
        floating = all(p.is_floating_point() for p in params)
        if floating and devices <= {"cuda", "cpu"}:
            return {"fused": True}
    return {"foreach": True}


@OPTIMIZERS.register("adamw")
def adamw(groups: List[Dict], args: Namespace) -> torch.optim.Optimizer:
    """``torch.optim.AdamW``: betas (0.9, 0.999), eps 1e-6 as the reference.

    Unlike the reference (HF AdamW with ``correct_bias=False``) torch applies Adam's bias
    correction; with warm-up the difference fades within the first few hundred steps.
    """
    params = [p for group in groups for p in group["params"]]
    kwargs = _fast_adamw_kwargs(params)
    try:
        return torch.optim.AdamW(groups, lr=args.learning_rate, betas=(0.9, 0.999), eps=1e-6, **kwargs)
    except RuntimeError as error:  # a device/dtype without the fused kernel
        logger.info("fused AdamW unavailable (%s); using foreach", error)
        return torch.optim.AdamW(groups, lr=args.learning_rate, betas=(0.9, 0.999), eps=1e-6, foreach=True)


@OPTIMIZERS.register("adafactor")
def adafactor(groups: List[Dict], args: Namespace) -> torch.optim.Optimizer:
    """Adafactor with an external learning rate (reference: no parameter scaling, no relative step)."""
    return Adafactor(groups, lr=args.learning_rate)


def build_optimizer(model: nn.Module, args: Namespace) -> torch.optim.Optimizer:
    """The ``--optimizer`` over ``model``'s trainable parameters, with rank-based weight decay.

    Reads ``args.optimizer``, ``args.learning_rate`` and ``args.weight_decay`` (default 0.01).
    """
    groups = param_groups(model, getattr(args, "weight_decay", 0.01))
    return OPTIMIZERS.get(args.optimizer)(groups, args)


# Each schedule maps (warmup_steps, total_steps) to a multiplier function of the step number,
# counted in optimizer steps from 0, exactly as the reference (Hugging Face) schedules.

def _warmup(step: int, warmup_steps: int) -> float:
    return step / max(1, warmup_steps)


def _progress(step: int, warmup_steps: int, total_steps: int) -> float:
    return (step - warmup_steps) / max(1, total_steps - warmup_steps)


@SCHEDULERS.register("linear")
def linear(warmup_steps: int, total_steps: int, base_lr: float) -> Callable[[int], float]:
    """Linear warm-up, then linear decay to 0 at ``total_steps``."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return _warmup(step, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
    return factor


@SCHEDULERS.register("cosine")
def cosine(warmup_steps: int, total_steps: int, base_lr: float) -> Callable[[int], float]:
    """Warm-up, then a half cosine from the peak to 0."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return _warmup(step, warmup_steps)
        progress = _progress(step, warmup_steps, total_steps)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))
    return factor


@SCHEDULERS.register("cosine_with_restarts")
def cosine_with_restarts(warmup_steps: int, total_steps: int, base_lr: float,
                         cycles: int = 1) -> Callable[[int], float]:
    """Warm-up, then ``cycles`` hard-restart cosines (one cycle, the reference's, is a plain cosine)."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return _warmup(step, warmup_steps)
        progress = _progress(step, warmup_steps, total_steps)
        if progress >= 1.0:
            return 0.0
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((cycles * progress) % 1.0))))
    return factor


@SCHEDULERS.register("polynomial")
def polynomial(warmup_steps: int, total_steps: int, base_lr: float, power: float = 1.0) -> Callable[[int], float]:
    """Warm-up, then (lr - 1e-7) * remaining_fraction ** power + 1e-7 (never below 1e-7)."""
    if base_lr <= POLYNOMIAL_LR_END:
        raise ValueError(f"polynomial schedule needs --learning_rate > {POLYNOMIAL_LR_END}")

    def factor(step: int) -> float:
        if step < warmup_steps:
            return _warmup(step, warmup_steps)
        if step > total_steps:
            return POLYNOMIAL_LR_END / base_lr
        remaining = 1.0 - _progress(step, warmup_steps, total_steps)
        return ((base_lr - POLYNOMIAL_LR_END) * remaining ** power + POLYNOMIAL_LR_END) / base_lr
    return factor


@SCHEDULERS.register("constant")
def constant(warmup_steps: int, total_steps: int, base_lr: float) -> Callable[[int], float]:
    """The peak rate throughout (``--warmup`` ignored)."""
    return lambda step: 1.0


@SCHEDULERS.register("constant_with_warmup")
def constant_with_warmup(warmup_steps: int, total_steps: int, base_lr: float) -> Callable[[int], float]:
    """Linear warm-up, then the peak rate."""
    return lambda step: _warmup(step, warmup_steps) if step < warmup_steps else 1.0


def build_scheduler(optimizer: torch.optim.Optimizer, args: Namespace, total_steps: int) -> LambdaLR:
    """``--scheduler`` over ``total_steps`` optimizer steps, warming up for ``int(warmup * total)``.

    Step it once per optimizer step (not per accumulation micro-step).
    """
    warmup_steps = int(total_steps * getattr(args, "warmup", 0.0))
    factor = SCHEDULERS.get(args.scheduler)(warmup_steps, total_steps, args.learning_rate)
    return LambdaLR(optimizer, factor)
