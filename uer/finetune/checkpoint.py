"""Checkpoints of fine-tuning: pre-trained loads with a report, fine-tuned saves with a sidecar,
inference loads that refuse an untrained task head."""
import json
import logging
import os
from argparse import Namespace
from typing import Any, Dict, Optional

import torch.nn as nn

from uer.model_loader import LoadReport, load_model, require_backbone
from uer.model_saver import save_model
from uer.training.fsdp import is_sharded
from uer.training.runtime import DistContext
from uer.utils.config import sidecar_path
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)


def load_pretrained(model: nn.Module, path: Optional[str]) -> Optional[LoadReport]:
    """Load ``--pretrained_model_path`` into the backbone and log which keys were loaded, which
    stayed at their initialisation (the new task head) and which were unused (e.g. ``target.*``)."""
    if not path:
        logger.info("no --pretrained_model_path: every parameter starts from random initialisation")
        return None
    report = load_model(model, path)
    if not report.loaded:
        raise UserInputError("no tensor of this checkpoint matches the model's parameter names; is it a "
                             "UER model of the architecture given by --config_path?", path=path)
    require_backbone(report, path)  # load_model has logged what was loaded, missing and unused
    return report


def load_for_inference(model: nn.Module, path: str) -> LoadReport:
    """Load a fine-tuned checkpoint; a missing task head (a pre-trained model, or one of another
    task) or any other missing tensor is an error rather than a randomly initialised layer."""
    report = load_model(model, path)
    require_backbone(report, path)
    prefixes = tuple(getattr(model, "head_prefixes", ()))
    head_missing = [key for key in report.missing if prefixes and key.startswith(prefixes)]
    if head_missing:
        raise UserInputError(f"the checkpoint has no trained task head ({_short(head_missing)} missing): it is a "
                             f"pre-trained model or one fine-tuned for another task; fine-tune it first",
                             path=path)
    if report.missing:
        raise UserInputError(f"{len(report.missing)} tensors of the model are missing from the checkpoint "
                             f"({_short(report.missing)}): check the architecture options", path=path)
    if report.unexpected:
        logger.warning("%s: %d unused tensors (%s)", path, len(report.unexpected), _short(report.unexpected))
    return report


def save_finetuned(model: nn.Module, path: str, args: Namespace, extra: Dict[str, Any], ctx: DistContext) -> None:
    """Weights with UER-py key names plus the sidecar inference needs (rank 0 writes; under FSDP
    every rank calls this, to gather the weights)."""
    if ctx.is_main or is_sharded(model):
        save_model(model, path, args, extra={"format_version": 1, **extra})


def evaluates_here(model: nn.Module, ctx: DistContext) -> bool:
    """Whether this rank runs an evaluation outside ``fit``: rank 0 alone, or every rank when the
    model is sharded (FSDP: each forward gathers weights from all ranks; only rank 0 logs)."""
    return ctx.is_main or is_sharded(model)


def read_sidecar(model_path: str) -> Dict[str, Any]:
    """The ``<model>.config.json`` written beside a model, or {} when there is none."""
    path = sidecar_path(model_path)
    if not os.path.exists(path):
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise UserInputError(f"malformed JSON: {error.msg}", path=path, line=error.lineno) from None


def fold_path(path: str, fold: int) -> str:
    """``models/cls.bin`` -> ``models/cls-fold_3.bin`` (UER-py's naming of cross-validation models)."""
    stem, ext = os.path.splitext(path)
    return f"{stem}-fold_{fold}{ext}"


def _short(keys: Any, limit: int = 4) -> str:
    keys = list(keys)
    if not keys:
        return "none"
    return ", ".join(keys[:limit]) + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")
