"""Adafactor (Shazeer & Stern, 2018) with an external learning rate.

The behaviour the reference selects: no relative step, no parameter-scale multiplier, no first
moment unless ``beta1`` is given, factored second moments for tensors with dim >= 2, update
clipping at RMS ``clip_threshold``, and ``beta2_t = 1 - t ** decay_rate``. Decoupled weight decay
(``p -= weight_decay * lr * p``) is applied per parameter group.
"""
from typing import Callable, Iterable, Optional, Tuple

import torch
from torch.optim import Optimizer


def _rms(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.norm(2) / (tensor.numel() ** 0.5)


class Adafactor(Optimizer):
    """Memory-light adaptive optimizer: a [rows] and a [cols] statistic replace Adam's full
    second moment for every matrix."""

    def __init__(self, params: Iterable, lr: float, eps: Tuple[float, float] = (1e-30, 1e-3),
                 clip_threshold: float = 1.0, decay_rate: float = -0.8, beta1: Optional[float] = None,
                 weight_decay: float = 0.0):
        if lr <= 0:
            raise ValueError("Adafactor needs a positive learning rate")
        defaults = dict(lr=lr, eps=eps, clip_threshold=clip_threshold, decay_rate=decay_rate,
                        beta1=beta1, weight_decay=weight_decay)
        super().__init__(params, defaults)

    @staticmethod
    def _factored_inverse_sqrt(row: torch.Tensor, col: torch.Tensor) -> torch.Tensor:
        """Rank-1 estimate of 1/sqrt(E[g^2]) from the row means [.. x rows] and column means [.. x cols]."""
        row_factor = (row / row.mean(dim=-1, keepdim=True)).rsqrt().unsqueeze(-1)
        col_factor = col.unsqueeze(-2).rsqrt()
        return row_factor * col_factor

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            # eps[1] only matters with parameter scaling, which the reference turns off.
            eps_sq = group["eps"][0]
            for param in group["params"]:
                if param.grad is None:
                    continue
                if param.grad.is_sparse:
                    raise RuntimeError("Adafactor does not support sparse gradients")
                # Statistics and the update are kept in fp32 even for half-precision parameters.
                grad = param.grad.float()
                weight = param.float() if param.dtype in (torch.float16, torch.bfloat16) else param
                state = self.state[param]
                factored = grad.dim() >= 2
                if not state:
                    state["step"] = 0
                    if factored:
                        state["exp_avg_sq_row"] = grad.new_zeros(grad.shape[:-1])
                        state["exp_avg_sq_col"] = grad.new_zeros(grad.shape[:-2] + grad.shape[-1:])
                    else:
                        state["exp_avg_sq"] = torch.zeros_like(grad)
                    if group["beta1"] is not None:
                        state["exp_avg"] = torch.zeros_like(grad)
                state["step"] += 1
                beta2 = 1.0 - state["step"] ** group["decay_rate"]
                squared = grad * grad + eps_sq
                if factored:
                    row, col = state["exp_avg_sq_row"], state["exp_avg_sq_col"]
                    row.mul_(beta2).add_(squared.mean(dim=-1), alpha=1.0 - beta2)
                    col.mul_(beta2).add_(squared.mean(dim=-2), alpha=1.0 - beta2)
                    update = self._factored_inverse_sqrt(row, col).mul_(grad)
                else:
                    second = state["exp_avg_sq"]
                    second.mul_(beta2).add_(squared, alpha=1.0 - beta2)
                    update = second.rsqrt().mul_(grad)
                # Clip the update to RMS <= clip_threshold, then scale by the learning rate.
                update.div_((_rms(update) / group["clip_threshold"]).clamp_(min=1.0))
                update.mul_(group["lr"])
                if group["beta1"] is not None:
                    exp_avg = state["exp_avg"]
                    exp_avg.mul_(group["beta1"]).add_(update, alpha=1.0 - group["beta1"])
                    update = exp_avg
                if group["weight_decay"] != 0:
                    weight.add_(weight, alpha=-group["weight_decay"] * group["lr"])
                weight.add_(-update)
                if weight is not param:
                    param.copy_(weight)
        return loss
