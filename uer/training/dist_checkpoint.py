"""Weights and optimizer state of a training state, written with ``torch.distributed.checkpoint``.

Public API::

    save_sharded(directory, model, optimizer)    # every rank writes its part
    load_sharded(directory, model, optimizer)    # every rank reads what it now holds

Every rank calls both. The files keep each tensor under its parameter name with its global shape
(optimizer moments too: ``state.<name>.exp_avg``), so a state written by N processes loads into M,
with DDP (whole tensors, written once) or FSDP (each rank writes and reads its own shards) on
either side. Nothing here is specific to one parallelism: ``get_state_dict`` / ``set_state_dict``
see through DDP and FSDP2 alike.
"""
import contextlib
import warnings
from typing import Any, Dict, Iterator

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
import torch.nn as nn
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict


def _single_process() -> bool:
    return not (dist.is_available() and dist.is_initialized())


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """One process without a group is a case we mean, not one to warn about at every save."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled, unavailable or uninitialized")
        yield


def _payload(model: nn.Module, optimizer: torch.optim.Optimizer) -> Dict[str, Any]:
    model_state, optimizer_state = get_state_dict(model, optimizer)
    return {"model": model_state, "optimizer": optimizer_state}


def save_sharded(directory: str, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Write ``model`` and ``optimizer`` into ``directory`` (a collective: every rank calls it)."""
    with _quiet():
        dcp.save(_payload(model, optimizer), storage_writer=dcp.FileSystemWriter(directory),
                 no_dist=_single_process())


def load_sharded(directory: str, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Read ``directory`` into ``model`` and ``optimizer``, resharded to this run's processes."""
    payload = _payload(model, optimizer)
    _require_same_tensors(directory, payload["model"])
    with _quiet():
        dcp.load(payload, storage_reader=dcp.FileSystemReader(directory), no_dist=_single_process())
    set_state_dict(model, optimizer, model_state_dict=payload["model"], optim_state_dict=payload["optimizer"])


def _require_same_tensors(directory: str, model_state: Dict[str, Any]) -> None:
    """DCP fills the tensors the model asks for and ignores the others: a state of a deeper model
    would load into a shallower one without a word. The names must match exactly."""
    saved = {key[len("model."):] for key in dcp.FileSystemReader(directory).read_metadata().state_dict_metadata
             if key.startswith("model.")}
    missing, unused = sorted(set(model_state) - saved), sorted(saved - set(model_state))
    if missing or unused:
        parts = []
        if missing:
            parts.append(f"{len(missing)} of the model's tensors are not in it ({', '.join(missing[:3])})")
        if unused:
            parts.append(f"{len(unused)} of its tensors are not in the model ({', '.join(unused[:3])})")
        raise ValueError("; ".join(parts))
