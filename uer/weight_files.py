"""Read weight files as flat state dicts: ``.bin``/``.pt`` written by ``torch.save`` (any torch
version, UER-py's too) or ``.safetensors``, a file or the weights of a model folder. Every failure
is a UserInputError; nothing here knows key names (``uer.model_loader`` does)."""
import os
import pickle
from typing import Dict

import torch

from uer.utils.config import missing_model
from uer.utils.errors import UserInputError

WRAPPER_PREFIXES = ("module.", "_orig_mod.")
FOLDER_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


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
        raise missing_model(path)
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
