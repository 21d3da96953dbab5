"""Training runtime shared by pre-training and fine-tuning: devices, processes, precision.

Public API::

    distributed_opts(parser)            # --world_size --gpu_ranks --master_ip --backend --device
    launch(worker, args)                # worker(args) here, or one spawned process per local rank
    ctx = init_distributed(args)        # DistContext(rank, local_rank, world_size, device, is_main)
    model = parallelize(model, ctx, args=args)   # DDP, or FSDP2 with --parallel fsdp (uer/training/fsdp.py)
    with autocast(args, ctx.device): ...             # --fp16 / --bf16 (torch.amp)
    scaler = make_grad_scaler(args, ctx.device)      # enabled only for --fp16
    setup_logging(ctx); is_main_process(); shutdown(ctx)

Two launch styles reach the same worker. ``torchrun`` sets RANK/WORLD_SIZE/LOCAL_RANK itself; the
original ``--world_size N --gpu_ranks ...`` front door spawns one process per listed local rank
and sets the same variables (``--master_ip tcp://host:port`` becomes MASTER_ADDR/MASTER_PORT), so
nothing below knows how it was started. Without ``--gpu_ranks`` and without CUDA, ``--world_size N``
spawns N CPU processes (use ``--backend gloo``; nccl is replaced by gloo on CPU with a warning).

Device choice (``--device auto``): the GPU of ``--gpu_ranks`` (one process) or of LOCAL_RANK
(several), else CUDA when available, else CPU. The original used the CPU whenever ``--gpu_ranks``
was empty; pass ``--device cpu`` for that.

``--fp16`` on CPU runs (torch supports float16 autocast and a gradient scaler there) but is slow
and exists for testing; a warning says to use ``--bf16`` on CPU.
"""
import argparse
import contextlib
import gc
import logging
import os
import socket
from argparse import Namespace
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, List, Optional
from urllib.parse import urlparse

import torch
import torch.distributed as dist
import torch.nn as nn

from uer.training.fsdp import gradient_sync_fsdp, is_sharded, parallel_opts, shard_model
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    """Where this process runs: its global ``rank``, ``local_rank`` on the node, ``world_size``."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def distributed_opts(parser: argparse.ArgumentParser, training: bool = True) -> None:
    group = parser.add_argument_group("devices and processes")
    if training:
        parallel_opts(group)
    group.add_argument("--world_size", type=int, default=1, help="Total number of processes (all nodes).")
    group.add_argument("--gpu_ranks", type=int, nargs="+", default=[],
                       help="Global ranks run on this node, one process per entry, on local GPUs 0, 1, ...")
    group.add_argument("--master_ip", default="tcp://localhost:12345", help="Rendezvous address tcp://host:port.")
    group.add_argument("--backend", choices=["nccl", "gloo"], default="nccl")
    group.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                       help="auto: GPU when one is available (or listed in --gpu_ranks), else CPU.")


def _launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def _spawned_entry(index: int, worker: Callable[[Any], None], args: Any, ranks: List[int]) -> None:
    url = urlparse(args.master_ip)
    if not url.hostname or not url.port:
        raise UserInputError(f"--master_ip must look like tcp://host:port, got '{args.master_ip}'")
    os.environ.update(RANK=str(ranks[index]), LOCAL_RANK=str(index), WORLD_SIZE=str(args.world_size),
                      LOCAL_WORLD_SIZE=str(len(ranks)), MASTER_ADDR=url.hostname, MASTER_PORT=str(url.port))
    worker(args)


def launch(worker: Callable[[Any], None], args: Any) -> None:
    """Run ``worker(args)`` in this process (single process or torchrun), or spawn the local ranks
    of ``--world_size N`` (``--gpu_ranks`` lists them; without it, ranks 0..N-1 on this machine)."""
    world_size = getattr(args, "world_size", 1)
    if _launched_by_torchrun() or world_size <= 1:
        worker(args)
        return
    ranks = list(getattr(args, "gpu_ranks", None) or range(world_size))
    if len(ranks) > world_size or any(not 0 <= r < world_size for r in ranks) or len(set(ranks)) != len(ranks):
        raise UserInputError(f"--gpu_ranks {ranks} must be distinct global ranks below --world_size {world_size}")
    if getattr(args, "gpu_ranks", None):
        if not torch.cuda.is_available() or torch.cuda.device_count() < len(ranks):
            raise UserInputError(f"--gpu_ranks lists {len(ranks)} processes but this machine has "
                                 f"{torch.cuda.device_count()} CUDA device(s); omit --gpu_ranks to run on CPU")
    import torch.multiprocessing as mp

    mp.spawn(_spawned_entry, args=(worker, args, ranks), nprocs=len(ranks), join=True)


def _select_device(args: Any, local_rank: int, distributed: bool) -> torch.device:
    choice = getattr(args, "device", "auto")
    gpu_ranks = getattr(args, "gpu_ranks", None) or []
    if choice == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        if choice == "cuda" or gpu_ranks:
            raise UserInputError("CUDA was requested (--device cuda or --gpu_ranks) but no GPU is available")
        return torch.device("cpu")
    if not distributed and gpu_ranks:
        return torch.device("cuda", gpu_ranks[0])
    return torch.device("cuda", local_rank if distributed else 0)


def _configure_threads(device: torch.device) -> None:
    """CPU processes on one node share its cores; torch's default would oversubscribe them."""
    if device.type != "cpu" or "OMP_NUM_THREADS" in os.environ:
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    torch.set_num_threads(max(1, cores // max(1, local_processes)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def init_distributed(args: Any) -> DistContext:
    """Pick the device and, when WORLD_SIZE > 1 (or for ``--parallel fsdp``, which shards over a
    group even of one process), join the process group (``env://`` rendezvous)."""
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    rank = int(os.environ.get("RANK", 0))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    device = _select_device(args, local_rank, world_size > 1)
    _configure_threads(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    sharded = getattr(args, "parallel", "ddp") == "fsdp"
    if (world_size > 1 or sharded) and not dist.is_initialized():
        backend = getattr(args, "backend", "nccl")
        if backend == "nccl" and device.type != "cuda":
            if world_size > 1:
                logger.warning("the nccl backend needs GPUs; using gloo on CPU")
            backend = "gloo"
        init = "env://" if "MASTER_PORT" in os.environ else f"tcp://127.0.0.1:{_free_port()}"  # one plain process
        dist.init_process_group(backend, init_method=init, rank=rank, world_size=world_size)
    return DistContext(rank=rank, local_rank=local_rank, world_size=world_size, device=device)


def parallelize(model: nn.Module, ctx: DistContext, find_unused_parameters: bool = False,
                args: Any = None) -> nn.Module:
    """The one place that wraps a model for data parallelism: DDP when world_size > 1, or with
    ``--parallel fsdp`` FSDP2 (in place, one process included; build the optimizer after this call)."""
    if uses_fsdp(args, ctx):
        return shard_model(model, ctx.world_size, precision_dtype(args), find_unused_parameters)
    if not ctx.distributed:
        return model
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids,
                                               find_unused_parameters=find_unused_parameters)


def single_process_weights(args: Namespace, ctx: DistContext) -> bool:
    """True when one process owns the whole model and its gradients (no DDP, no FSDP): optimisations
    that bypass autograd's gradient accumulation hooks are then safe."""
    return not ctx.distributed and getattr(args, "parallel", "ddp") == "ddp"


def uses_fsdp(args: Any, ctx: DistContext) -> bool:
    """``--parallel fsdp`` (with one process too: a smoke test of the sharded path, e.g. on one GPU)."""
    return getattr(args, "parallel", "ddp") == "fsdp" and dist.is_available() and dist.is_initialized()


def gradient_sync(model: nn.Module, sync: bool) -> Any:
    """Context of one backward: DDP all-reduces gradients only where ``sync`` (the last backward
    before an optimizer step), accumulating them locally before; FSDP likewise reduce-scatters then."""
    if is_sharded(model):
        return gradient_sync_fsdp(model, sync)
    return contextlib.nullcontext() if sync or not hasattr(model, "no_sync") else model.no_sync()


def shutdown(ctx: DistContext) -> None:
    """Destroy the process group, after collecting what still holds it: a DDP wrapper left in a
    reference cycle would otherwise reach its reducer's destructor after the group is gone."""
    if dist.is_initialized() and (ctx.distributed or dist.get_world_size() == 1):  # one process: --parallel fsdp
        gc.collect()
        dist.destroy_process_group()


def is_main_process() -> bool:
    """True on global rank 0, and in any process outside a process group."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


class _RankFormatter(logging.Formatter):
    def __init__(self, rank: int, world_size: int):
        super().__init__()
        self.prefix = f"[rank {rank}] " if world_size > 1 else ""

    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        return f"{self.prefix}{level}{record.getMessage()}"


def setup_logging(ctx: DistContext, level: int = logging.INFO) -> None:
    """Plain report lines on rank 0; the other ranks print warnings and errors only.

    Installs a stderr handler unless the application (or pytest) already configured one.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "uer_runtime", False)]
    if ours or not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(_RankFormatter(ctx.rank, ctx.world_size))
        handler.uer_runtime = True
        for old in ours:
            root.removeHandler(old)
        root.addHandler(handler)
    root.setLevel(level if ctx.is_main else logging.WARNING)


def precision_dtype(args: Any) -> Optional[torch.dtype]:
    if getattr(args, "fp16", False):
        return torch.float16
    if getattr(args, "bf16", False):
        return torch.bfloat16
    return None


def check_precision(args: Any, device: torch.device) -> None:
    """Refuse precisions the device cannot run; warn about the slow ones."""
    dtype = precision_dtype(args)
    if dtype is torch.float16 and device.type == "cpu":
        logger.warning("--fp16 on CPU is emulated and slow; use --bf16 on CPU (fp16 is meant for GPUs)")
    if dtype is torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise UserInputError("--bf16 needs a GPU with bfloat16 support (Ampere or newer); use --fp16")


def autocast(args: Any, device: torch.device) -> ContextManager:
    """``torch.autocast`` in the ``--fp16``/``--bf16`` dtype, or a no-op in full precision."""
    dtype = precision_dtype(args)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def make_grad_scaler(args: Any, device: torch.device) -> torch.amp.GradScaler:
    """A loss scaler for ``--fp16`` (bf16 has fp32's range and needs none); disabled otherwise."""
    return torch.amp.GradScaler(device.type, enabled=precision_dtype(args) is torch.float16)


class TrainingDiverged(UserInputError):
    """Training kept producing non-finite losses or gradients; the fix lies in the options."""


DIVERGENCE_ADVICE = ("try a lower --learning_rate, a longer --warmup, gradient clipping (--max_grad_norm 1.0), "
                     "--bf16 or full precision instead of --fp16, and check the dataset; "
                     "--resume continues from the last saved state")


class NonFiniteGuard:
    """Counts optimizer steps skipped for non-finite gradients (fp16 overflow, NaN losses) and stops
    the run when ``patience`` of them come in a row: one overflow is routine for a loss scaler,
    a long run of them means the training diverged."""

    def __init__(self, patience: int = 50):
        self.patience = patience
        self.consecutive = 0
        self.window = 0
        self.total = 0

    def update(self, finite: bool, step: int) -> None:
        if finite:
            self.consecutive = 0
            return
        self.consecutive += 1
        self.window += 1
        self.total += 1
        if self.total == 1:
            logger.warning("step %d: non-finite gradients, update skipped (reported per window from now on)", step)
        if self.consecutive >= self.patience:
            raise TrainingDiverged(f"step {step}: the loss or gradients were non-finite for {self.consecutive} "
                                   f"optimizer steps in a row, so training stopped; {DIVERGENCE_ADVICE}")

    def pop_window(self) -> int:
        """Skipped updates since the previous call (for the report line)."""
        skipped, self.window = self.window, 0
        return skipped


def all_reduce_sum(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum ``tensor`` over all ranks in place (a no-op in one process)."""
    if ctx.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def gather_objects(obj: Any, ctx: DistContext) -> List[Any]:
    """Every rank's ``obj`` in rank order (on every rank); ``[obj]`` in one process."""
    if not ctx.distributed:
        return [obj]
    gathered: List[Any] = [None] * ctx.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()
