"""Resumable training state: everything a stopped run needs to continue as if never stopped.

A state ``<output_model_path>-<step>.state`` is a directory (format 2)::

    .metadata, __<rank>_0.distcp   weights and optimizer state (torch.distributed.checkpoint, written
                                   by every rank: see uer/training/dist_checkpoint.py)
    train.pt                       {"format": 2, "step": int, "scheduler": ..., "scaler": ...,
                                    "world_size": int, "ranks": [{"rng": ..., "loader": ...} per rank],
                                    "options": {training options, to warn when a resumed run changes them}}

so a state written by N processes, under DDP or FSDP, resumes with M. ``train.pt`` is read with
``weights_only=True``. Random generators (python, numpy, torch, CUDA) and the loader position are
per rank; a rank that did not exist in the saved run starts its data and random streams afresh.
Numpy arrays (e.g. inside a loader's state) are stored as tensors with their dtype and restored as
numpy arrays. The directory is written under a temporary name and renamed when whole.

Format 1 (one ``torch.save`` file holding ``"model"`` and ``"optimizer"`` too, written before
format 2) is still read, by runs without FSDP.
"""
import glob
import logging
import os
import random
import re
import shutil
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from uer.model_saver import unwrap
from uer.training.dist_checkpoint import load_sharded, save_sharded
from uer.training.runtime import DistContext, barrier
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)

STATE_FORMAT = 2
OLD_FORMATS = (1,)
STATE_SUFFIX = ".state"
META_FILE = "train.pt"
# Options whose change between the stopped and the resumed run deserves a warning.
WATCHED_OPTIONS = ("total_steps", "batch_size", "accumulation_steps", "learning_rate", "scheduler", "warmup",
                   "optimizer", "target", "world_size", "seq_length")


def checkpoint_path(output_model_path: str, step: int) -> str:
    return f"{output_model_path}-{step}"


def state_path(output_model_path: str, step: int) -> str:
    return checkpoint_path(output_model_path, step) + STATE_SUFFIX


def _encode(obj: Any) -> Any:
    """Make ``obj`` loadable with ``weights_only=True``: numpy values become tensors/python numbers."""
    if isinstance(obj, np.ndarray):
        return {"__numpy__": torch.from_numpy(obj.astype(np.int64) if obj.dtype.kind in "ub" else obj.copy()),
                "dtype": obj.dtype.str}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {key: _encode(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_encode(value) for value in obj)
    return obj


def _decode(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__numpy__", "dtype"}:
            return obj["__numpy__"].numpy().astype(np.dtype(obj["dtype"]))
        return {key: _decode(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_decode(value) for value in obj)
    return obj


def rng_state(device: torch.device) -> Dict[str, Any]:
    """The state of every random generator this process draws from."""
    state = {"python": random.getstate(), "numpy": _encode(np.random.get_state()), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: Dict[str, Any], device: torch.device) -> None:
    random.setstate(state["python"])
    np.random.set_state(_decode(state["numpy"]))
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def rank_state(device: torch.device, loader: Any) -> Dict[str, Any]:
    """This rank's part of the state: its random generators and its loader position."""
    loader_state = loader.state_dict() if hasattr(loader, "state_dict") else None
    return {"rng": rng_state(device), "loader": _encode(loader_state)}


def save_train_state(path: str, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                     scheduler: Any, scaler: Any, ranks: List[Dict[str, Any]], args: Any,
                     ctx: DistContext = DistContext()) -> None:
    """Write the state directory ``path`` (``ranks``: every rank's :func:`rank_state`, in rank order).
    Every rank calls this: each writes its part of the weights and optimizer; rank 0 the rest."""
    meta = {
        "format": STATE_FORMAT, "step": step, "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else {}, "world_size": len(ranks), "ranks": ranks,
        "options": {key: getattr(args, key) for key in WATCHED_OPTIONS if hasattr(args, key)},
    }
    temp = temporary_path(path)
    if ctx.is_main:
        remove_state(temp)  # left by a run killed while writing
    barrier(ctx)
    save_sharded(temp, unwrap(model), optimizer)
    if ctx.is_main:
        write_meta(os.path.join(temp, META_FILE), meta)
        replace_state(temp, path)
    barrier(ctx)  # nobody goes on (or prunes, or exits) before the state has its final name


def temporary_path(path: str) -> str:
    """The name a state is written under until it is whole (the same on every rank)."""
    return os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp")


def write_meta(path: str, meta: Dict[str, Any]) -> None:
    torch.save(meta, path)


def replace_state(temp: str, path: str) -> None:
    """Give the whole state in ``temp`` the name ``path`` (an older state there goes)."""
    if os.path.lexists(path):
        old = temporary_path(path) + "-old"
        remove_state(old)
        os.replace(path, old)
        os.replace(temp, path)
        remove_state(old)
    else:
        os.replace(temp, path)


def remove_state(path: str) -> None:
    """Delete a state directory, a format-1 state file, or nothing."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def _read(path: str, what: str) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, corrupt, or not a state file
        raise UserInputError(f"cannot read the training state ({what}{type(error).__name__}: {error})",
                             path=path) from None


def load_train_state(path: str) -> Dict[str, Any]:
    """The state's metadata (format 2; its ``"checkpoint"`` is the directory of the weights), or the
    whole format-1 file."""
    if os.path.isdir(path):
        meta_path = os.path.join(path, META_FILE)
        if not os.path.isfile(meta_path) or not os.path.isfile(os.path.join(path, ".metadata")):
            raise UserInputError(f"not a uer training state: the directory lacks {META_FILE} or .metadata "
                                 f"(a state being written when the run died?)", path=path)
        state = _read(meta_path, "")
        if isinstance(state, dict):
            state["checkpoint"] = path
    elif os.path.isfile(path):
        state = _read(path, "")
    else:
        raise UserInputError("training state not found", path=path)
    if not isinstance(state, dict) or state.get("format") not in (STATE_FORMAT, *OLD_FORMATS):
        raise UserInputError("not a uer training state (expected a directory written as <model>-<step>.state)",
                             path=path)
    return state


def _restore_weights(state: Dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                     source: str) -> None:
    model = unwrap(model)
    try:
        if state["format"] == STATE_FORMAT:
            load_sharded(state["checkpoint"], model, optimizer)
            return
        if any(hasattr(p, "to_local") for p in model.parameters()):
            raise UserInputError("a training state written before format 2 (one file) resumes without "
                                 "--parallel fsdp; resume it with --parallel ddp, then switch at its next state",
                                 path=source)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except UserInputError:
        raise
    except Exception as error:  # shapes, names or optimizer groups of another model
        message = str(error).strip().splitlines()
        raise UserInputError(f"the training state does not fit the model built from these options (different "
                             f"config, target or vocabulary?): {message[0] if message else type(error).__name__}",
                             path=source) from None


def restore_train_state(state: Dict[str, Any], ctx: DistContext, model: torch.nn.Module,
                        optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any, loader: Any,
                        args: Any, source: str = "state") -> int:
    """Load ``state`` into this rank's training objects (every rank calls this); returns the step
    to continue after."""
    for key, saved in state.get("options", {}).items():
        if getattr(args, key, saved) != saved:
            logger.warning("%s: --%s was %s, now %s", source, key, saved, getattr(args, key))
    _restore_weights(state, model, optimizer, source)
    scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    ranks = state["ranks"]
    if len(ranks) != ctx.world_size:
        logger.warning("%s: saved by %d processes, resumed by %d: each rank's data position and random "
                       "streams are not continued exactly", source, len(ranks), ctx.world_size)
        if ctx.rank >= len(ranks):
            return int(state["step"])
    own = ranks[ctx.rank]
    set_rng_state(own["rng"], ctx.device)
    if own.get("loader") is not None and hasattr(loader, "load_state_dict"):
        loader.load_state_dict(_decode(own["loader"]))
    return int(state["step"])


def _state_steps(output_model_path: str) -> Dict[int, str]:
    pattern = re.compile(re.escape(os.path.basename(output_model_path)) + r"-(\d+)" + re.escape(STATE_SUFFIX) + "$")
    found = {}
    for path in glob.glob(glob.escape(output_model_path) + "-*" + STATE_SUFFIX):
        match = pattern.match(os.path.basename(path))
        if match:
            found[int(match.group(1))] = path
    return found


def find_latest_state(output_model_path: str) -> Optional[str]:
    """The state with the highest step beside ``output_model_path``, or None."""
    found = _state_steps(output_model_path)
    return found[max(found)] if found else None


def resolve_resume(resume: str, output_model_path: str) -> Optional[str]:
    """``--resume PATH`` or ``--resume auto`` (the latest state; None means start fresh)."""
    if resume != "auto":
        return resume
    path = find_latest_state(output_model_path)
    if path is None:
        logger.info("--resume auto: no state beside %s, starting from scratch", output_model_path)
    return path


def prune_states(output_model_path: str, keep: int) -> None:
    """Delete all but the ``keep`` most recent states (model checkpoints are never deleted)."""
    if keep <= 0:
        return
    found = _state_steps(output_model_path)
    for step in sorted(found)[:-keep]:
        remove_state(found[step])
