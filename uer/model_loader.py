"""Load checkpoints (UER-py ``.bin`` of any torch version, or ``.safetensors``) with a report."""
import logging
import os
import pickle
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import torch
import torch.nn as nn

from uer.model_saver import unwrap
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)

WRAPPER_PREFIXES = ("module.", "_orig_mod.")
FOLDER_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass
class LoadReport:
    loaded: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"loaded {len(self.loaded)} tensors"
        if self.missing:
            text += f"; missing {len(self.missing)} (kept their initialisation): {', '.join(self.missing[:8])}"
            text += " ..." if len(self.missing) > 8 else ""
        if self.unexpected:
            text += f"; unused {len(self.unexpected)}: {', '.join(self.unexpected[:8])}"
            text += " ..." if len(self.unexpected) > 8 else ""
        return text


def strip_wrapper_prefixes(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Remove DDP (``module.``) and torch.compile (``_orig_mod.``) prefixes, however nested."""
    cleaned = {}
    for key, value in state_dict.items():
        changed = True
        while changed:
            changed = False
            for prefix in WRAPPER_PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix):], True
        cleaned[key] = value
    return cleaned


ZIP_MAGIC, PICKLE_MAGIC = b"PK\x03\x04", b"\x80"  # torch.save's zip container, the legacy pickle stream


def read_weights(path: str) -> object:
    """``torch.load(weights_only=True)`` or safetensors' ``load_file``, with every failure a UserInputError.

    ``weights_only`` refuses a pickle that would build arbitrary Python objects (and so could run
    code): checkpoints from the internet are untrusted input.
    """
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        raise UserInputError("the model file is empty", path=path)
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except Exception as error:  # SafetensorError, or OSError on a truncated file
            raise UserInputError(f"cannot read model weights: truncated or not a safetensors file "
                                 f"({_first_line(error)})", path=path) from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "weights only" in str(error).lower():
            raise UserInputError("refused to load: the file pickles Python objects other than tensors, and "
                                 "unpickling them could run arbitrary code (weights are read with "
                                 "weights_only=True); if you trust its source, load it yourself and re-save its "
                                 "state_dict", path=path) from None
        raise UserInputError(f"cannot read model weights: corrupt pickle ({_first_line(error)})", path=path) from None
    except Exception as error:
        what = ("the checkpoint is truncated or corrupt" if head.startswith((ZIP_MAGIC, PICKLE_MAGIC)) else
                "not a PyTorch checkpoint (expected a file written by torch.save, or a .safetensors file)")
        raise UserInputError(f"cannot read model weights: {what} ({type(error).__name__}: {_first_line(error)})",
                             path=path) from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def load_state_dict_file(path: str) -> Dict[str, torch.Tensor]:
    """Read a flat state dict from ``.bin``/``.pt``/``.safetensors`` or a model folder."""
    if os.path.isdir(path):
        for name in FOLDER_WEIGHT_FILES:
            if os.path.exists(os.path.join(path, name)):
                return load_state_dict_file(os.path.join(path, name))
        raise UserInputError(f"no {' or '.join(FOLDER_WEIGHT_FILES)} in this folder", path=path)
    if not os.path.exists(path):
        raise UserInputError("model file not found", path=path)
    state_dict = read_weights(path)
    if isinstance(state_dict, dict) and "model" in state_dict and isinstance(state_dict["model"], dict):
        state_dict = state_dict["model"]  # a resumable training state: take its weights
    if not isinstance(state_dict, dict):
        raise UserInputError("expected a state dict of named tensors", path=path)
    odd = [str(key) for key, value in state_dict.items() if not isinstance(value, torch.Tensor)]
    if odd:
        raise UserInputError(f"expected a state dict of named tensors; {', '.join(odd[:3])} "
                             f"{'is' if len(odd) == 1 else 'are'} not tensors", path=path)
    return strip_wrapper_prefixes(dict(state_dict))


def load_state_dict_into(model: nn.Module, state_dict: Dict[str, torch.Tensor], source: str = "checkpoint") -> LoadReport:
    """Copy matching tensors into ``model``; shape mismatches are errors, absences are reported."""
    model = unwrap(model)
    own = model.state_dict()
    report = LoadReport()
    usable = {}
    for key, tensor in state_dict.items():
        if key not in own:
            report.unexpected.append(key)
            continue
        if own[key].shape != tensor.shape:
            raise UserInputError(f"tensor '{key}' has shape {tuple(tensor.shape)} in the checkpoint but "
                                 f"{tuple(own[key].shape)} in the model: check the config (sizes, vocab, layers)",
                                 path=source)
        usable[key] = tensor
        report.loaded.append(key)
    report.missing = [key for key in own if key not in usable]
    copy_into(model, usable)
    logger.info("%s: %s", source, report.summary())
    return report


def copy_into(model: nn.Module, state_dict: Dict[str, torch.Tensor]) -> None:
    """``load_state_dict(strict=False)``; a model sharded by FSDP2 takes the full tensors on every
    rank (all ranks call this) and each keeps its own shards."""
    from torch.distributed.fsdp import FSDPModule

    if isinstance(model, FSDPModule):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        set_model_state_dict(model, state_dict, options=StateDictOptions(full_state_dict=True, strict=False))
    else:
        model.load_state_dict(state_dict, strict=False)


BACKBONE_PREFIXES = ("embedding.", "encoder.")


def require_backbone(report: LoadReport, path: str, prefixes: Tuple[str, ...] = BACKBONE_PREFIXES) -> None:
    """Raise unless the checkpoint filled the model's embedding and encoder exactly: a missing or
    unused backbone tensor means the options (layers, embedding, encoder) do not describe the
    checkpoint, and the model would silently run with random or dropped layers."""
    missing = [key for key in report.missing if key.startswith(prefixes)]
    unexpected = [key for key in report.unexpected if key.startswith(prefixes)]
    if not missing and not unexpected:
        return
    parts = []
    if missing:
        parts.append(f"the model has {len(missing)} tensors the checkpoint lacks ({_listed(missing)})")
    if unexpected:
        parts.append(f"the checkpoint has {len(unexpected)} tensors the model lacks ({_listed(unexpected)})")
    raise UserInputError("; ".join(parts) + ": the checkpoint does not fit the options (check --config_path, "
                         "--layers_num, --embedding, --encoder or the model's .config.json)", path=path)


def _listed(keys: List[str], limit: int = 3) -> str:
    return ", ".join(keys[:limit]) + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def load_model(model: nn.Module, path: str) -> LoadReport:
    """Load a checkpoint file (or folder) into ``model`` non-strictly and report what happened."""
    return load_state_dict_into(model, load_state_dict_file(path), source=path)
