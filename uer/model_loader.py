"""Load checkpoints (UER-py ``.bin`` of any torch version, or ``.safetensors``) with a report."""
import logging
import os
from dataclasses import dataclass, field
from typing import Dict, List

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


def load_state_dict_file(path: str) -> Dict[str, torch.Tensor]:
    """Read a flat state dict from ``.bin``/``.pt``/``.safetensors`` or a model folder."""
    if os.path.isdir(path):
        for name in FOLDER_WEIGHT_FILES:
            if os.path.exists(os.path.join(path, name)):
                return load_state_dict_file(os.path.join(path, name))
        raise UserInputError(f"no {' or '.join(FOLDER_WEIGHT_FILES)} in this folder", path=path)
    if not os.path.exists(path):
        raise UserInputError("model file not found", path=path)
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        state_dict = load_file(path)
    else:
        try:
            state_dict = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # corrupt, truncated or not a weights file
            raise UserInputError(f"cannot read model weights ({type(error).__name__}: {error})", path=path) from None
    if isinstance(state_dict, dict) and "model" in state_dict and isinstance(state_dict["model"], dict):
        state_dict = state_dict["model"]  # a resumable training state: take its weights
    if not isinstance(state_dict, dict):
        raise UserInputError("expected a state dict of named tensors", path=path)
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
    model.load_state_dict(usable, strict=False)
    logger.info("%s: %s", source, report.summary())
    return report


def load_model(model: nn.Module, path: str) -> LoadReport:
    """Load a checkpoint file (or folder) into ``model`` non-strictly and report what happened."""
    return load_state_dict_into(model, load_state_dict_file(path), source=path)
