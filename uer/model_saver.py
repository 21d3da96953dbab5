"""Save model weights with UER-py key names, plus a JSON sidecar of the options that built them."""
import json
import os
from argparse import Namespace
from typing import Any, Dict, Optional

import torch
import torch.distributed as dist
import torch.nn as nn

from uer.utils.config import sidecar_path


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside DistributedDataParallel / torch.compile wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def atomic_write(path: str, write) -> None:
    """Call ``write(temp_path)`` then rename over ``path``: readers never see a partial file."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        write(temp)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def save_state_dict(state_dict: Dict[str, torch.Tensor], path: str) -> None:
    """``.safetensors`` by extension, else ``torch.save``; tied tensors are stored under every name."""
    state_dict = {key: value.detach().cpu() for key, value in state_dict.items()}
    if path.endswith(".safetensors"):
        from safetensors.torch import save_file

        # safetensors refuses aliased storage: give each tied name its own copy.
        seen = set()
        for key, value in state_dict.items():
            pointer = value.data_ptr()
            if pointer in seen:
                state_dict[key] = value.clone()
            seen.add(pointer)
        atomic_write(path, lambda temp: save_file({k: v.contiguous() for k, v in state_dict.items()}, temp))
    else:
        atomic_write(path, lambda temp: torch.save(state_dict, temp))


VOCAB_FILE_OPTIONS = ("vocab_path", "spm_model_path", "merges_path")


def vocab_files(args: Namespace) -> Dict[str, str]:
    """The vocabulary files a model was built with, as absolute paths: recorded in the sidecar
    (descriptive, never applied as options) so an export to Hugging Face finds the tokenizer."""
    return {key: os.path.abspath(getattr(args, key)) for key in VOCAB_FILE_OPTIONS if getattr(args, key, None)}


def model_config(args: Namespace, extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    from uer.model_builder import model_keys

    config = {key: getattr(args, key) for key in model_keys() if hasattr(args, key)}
    for key in ("tokenizer", "do_lower_case", "vocab_size", "tgt_vocab_size"):
        if getattr(args, key, None) is not None:
            config[key] = getattr(args, key)
    files = vocab_files(args)
    if files:
        config["vocab_files"] = files
    config.update(extra or {})
    return config


def full_state_dict(model: nn.Module) -> Dict[str, torch.Tensor]:
    """The model's whole state dict with its own key names. A model sharded by FSDP2 holds 1/N of
    each tensor: they are gathered to rank 0's CPU memory (every rank must call this; the others
    get an empty dict)."""
    model = unwrap(model)
    from torch.distributed.fsdp import FSDPModule

    if isinstance(model, FSDPModule):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return model.state_dict()


def writes_files() -> bool:
    """Rank 0 of a process group, or a process outside one."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def save_model(model: nn.Module, path: str, args: Optional[Namespace] = None,
               extra: Optional[Dict[str, Any]] = None) -> None:
    """Write the weights at ``path`` and, with ``args``, the sidecar ``<path>.config.json``. Under
    FSDP every rank calls this (the weights are gathered) and rank 0 writes."""
    state = full_state_dict(model)
    if not writes_files():
        return
    save_state_dict(state, path)
    if args is not None:
        config = model_config(args, extra)
        text = json.dumps(config, indent=2, ensure_ascii=False, sort_keys=True)

        def write(temp: str) -> None:
            with open(temp, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")

        atomic_write(sidecar_path(path), write)
