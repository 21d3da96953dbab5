"""Start of every fine-tuning or inference process: devices and processes, logging, precision, seed."""
import argparse
import logging
from typing import Any, Dict

import torch

from uer.training.runtime import DistContext, check_precision, init_distributed, setup_logging
from uer.utils.seed import set_seed

logger = logging.getLogger(__name__)


def start_session(args: argparse.Namespace) -> DistContext:
    """Join the process group (torchrun or ``--world_size``), configure logging (plain lines on
    rank 0), refuse precisions the device lacks, and seed every random source with ``--seed``."""
    ctx = init_distributed(args)
    setup_logging(ctx)
    check_precision(args, ctx.device)
    set_seed(getattr(args, "seed", 7))
    logger.debug("device %s, rank %d of %d", ctx.device, ctx.rank, ctx.world_size)
    return ctx


def to_device(batch: Dict[str, Any], device: torch.device) -> Dict[str, Any]:
    """Tensors of ``batch`` on ``device`` (asynchronous copies on GPU); other values unchanged."""
    return {key: value.to(device, non_blocking=True) if isinstance(value, torch.Tensor) else value
            for key, value in batch.items()}
