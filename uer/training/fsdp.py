"""Fully sharded data parallelism (``--parallel fsdp``): torch's FSDP2, applied from outside the model.

Public API::

    parallel_opts(group)                           # --parallel {ddp,fsdp}
    model = shard_model(model, world_size, dtype)  # fully_shard on every transformer layer, then the root
    is_sharded(model)                              # True for a model sharded here
    with gradient_sync_fsdp(model, sync): ...      # reduce-scatter gradients in this backward or not
    local_value(norm)                              # a (DTensor) gradient norm as a plain tensor
    param_bytes(model, optimizer)                  # this process's bytes of weights, gradients, optimizer state

Each process keeps 1/N of every parameter, gradient and optimizer moment; a layer's full weights
exist only while it runs (gathered before its forward and backward, freed after). Every
``TransformerLayer`` (encoders) and ``TransformerDecoderLayer`` (decoders) is its own shard unit, so
one layer is gathered at a time; what is left (embeddings, the shared relative position bias,
targets and task heads, tied weights among them) is sharded as the root unit. Recurrent and CNN
encoders, and ALBERT's one layer applied ``layers_num`` times (``--parameter_sharing``), are
sharded at the root only: the whole model is gathered for each forward and backward.

With ``--bf16``/``--fp16`` the layers compute in that dtype while the sharded master weights, the
gradient reduction and the optimizer stay float32 (``MixedPrecisionPolicy``). Sharded gradients
are DTensors: ``clip_grad_norm_`` returns a DTensor norm (see :func:`local_value`), and the
``--fp16`` GradScaler's overflow check on them is reduced over the ranks by DTensor itself, so
every rank skips or applies an update together (tests/test_fsdp.py checks it).

The model is sharded in place (its class becomes an FSDP subclass, its parameters DTensors), so
the optimizer is built after :func:`shard_model`. Every rank must take part in each forward
(evaluation included) and in gathering the full state dict to save it.
"""
import contextlib
import logging
from typing import Any, Iterable, Optional

import torch
import torch.nn as nn
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard

from uer.layers.transformer import TransformerDecoderLayer, TransformerLayer
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)

PARALLEL_CHOICES = ("ddp", "fsdp")
SHARD_UNITS = (TransformerLayer, TransformerDecoderLayer)


def parallel_opts(group: Any) -> None:
    group.add_argument("--parallel", choices=PARALLEL_CHOICES, default="ddp",
                       help="How several processes share the training: ddp = every process holds the whole "
                            "model, gradients and optimizer state; fsdp = each holds 1/N of them (torch FSDP2), "
                            "each transformer layer gathered only while it runs (recurrent and CNN encoders, "
                            "and --parameter_sharing, are sharded as one unit: the whole model is gathered).")


def is_sharded(model: nn.Module) -> bool:
    return isinstance(model, FSDPModule)


def shard_units(model: nn.Module) -> list:
    """The transformer layers to shard one by one; none under --parameter_sharing, whose one layer
    runs ``layers_num`` times in a forward (it stays in the root unit)."""
    if any(getattr(module, "parameter_sharing", False) for module in model.modules()):
        return []
    return [module for module in model.modules() if isinstance(module, SHARD_UNITS)]


def shard_model(model: nn.Module, world_size: int, dtype: Optional[torch.dtype] = None,
                find_unused_parameters: bool = False) -> nn.Module:
    """Shard ``model`` (already on its device) over the processes of the default group with FSDP2,
    computing in ``dtype`` (None: float32); returns it."""
    if find_unused_parameters:
        # FSDP2 reduces only the gradients a rank produced: ranks training different heads (multi-task
        # batches) would reduce different tensors and hang.
        raise UserInputError("--parallel fsdp cannot train a model whose ranks use different parameters in a "
                             "step (here: one task head per batch); use --parallel ddp")
    policy = MixedPrecisionPolicy(param_dtype=dtype, reduce_dtype=torch.float32)
    units = shard_units(model)
    for layer in units:
        fully_shard(layer, mp_policy=policy)
    fully_shard(model, mp_policy=policy)
    logger.info("FSDP: %d transformer layer(s) sharded one by one over %d processes%s", len(units), world_size,
                f", {str(dtype).replace('torch.', '')} compute with float32 master weights" if dtype else "")
    return model


def gradient_sync_fsdp(model: nn.Module, sync: bool) -> contextlib.nullcontext:
    """FSDP's ``no_sync``: without ``sync`` the backward keeps whole local gradients, reduce-scattered
    at the next backward that syncs (the last micro-batch before an optimizer step)."""
    model.set_requires_gradient_sync(sync)
    return contextlib.nullcontext()


def local_value(tensor: torch.Tensor) -> torch.Tensor:
    """A DTensor's full value (a reduced norm is replicated) or the tensor itself."""
    return tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor


def _local_bytes(tensors: Iterable[Optional[torch.Tensor]]) -> int:
    total = 0
    for tensor in tensors:
        if tensor is None or not torch.is_tensor(tensor):
            continue
        local = tensor.to_local() if hasattr(tensor, "to_local") else tensor
        total += local.numel() * local.element_size()
    return total


def param_bytes(model: nn.Module, optimizer: Optional[torch.optim.Optimizer] = None) -> dict:
    """Bytes this process holds of parameters, gradients and optimizer state (local shards only;
    a tensor shared by several names counts once)."""
    params = list({id(p): p for p in model.parameters()}.values())
    state = optimizer.state.values() if optimizer is not None else []
    return {"parameters": _local_bytes(params), "gradients": _local_bytes(p.grad for p in params),
            "optimizer": _local_bytes(value for entry in state for value in entry.values())}
