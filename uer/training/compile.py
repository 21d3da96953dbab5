"""``--compile`` and ``--activation_checkpointing``, applied to a built model before training.

Public API::

    prepare_layers(model, args, device)      # both flags, in the order torchtitan uses
    compile_blocks(model) -> int             # torch.compile each transformer layer in place
    compiler_problem(device) -> str | None   # why torch.compile cannot run here, if it cannot

Each transformer layer is compiled on its own (``nn.Module.compile``, in place), as torchtitan does:
the layers share one compiled graph, compile time does not grow with depth, and nothing is wrapped,
so parameter and ``state_dict`` names stay the same (no ``_orig_mod.`` prefix in checkpoints).
The embedding and the target stay eager (the target's data-dependent row selection would break
the graph). Inside a compiled layer the Functions of ``uer/layers/efficient.py`` give way to the
plain modules, which the compiler can fuse.
"""
import logging
import os
import shutil
from typing import Any, Optional

import torch
import torch.nn as nn

from uer.training.checkpointing import apply_activation_checkpointing, transformer_blocks
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)


def compiler_problem(device: torch.device) -> Optional[str]:
    """Why ``torch.compile`` cannot generate code for ``device`` here, or None when it can: on CPU
    its generated kernels are C++ (a compiler is needed), on CUDA they are Triton."""
    if device.type == "cpu":
        candidates = [os.environ.get("CXX"), "g++", "c++", "clang++"]
        if not any(name and shutil.which(name) for name in candidates):
            return "--compile on CPU needs a C++ compiler (g++ or clang++ on PATH, or $CXX); install one or drop --compile"
    elif device.type == "cuda":
        try:
            import triton  # noqa: F401
        except ImportError:
            return "--compile on CUDA needs Triton (pip install triton); install it or drop --compile"
    return None


def compile_blocks(model: nn.Module) -> int:
    """``torch.compile`` every transformer layer of ``model`` in place; returns how many."""
    blocks = transformer_blocks(model)
    for block in blocks:
        block.compile()
    for module in model.modules():
        if hasattr(module, "unpad_tokens"):
            # The unpadded layout's token count changes with every batch; compiled layers keep the
            # padded one (uer/layers/token_layout.py), whose shapes repeat.
            module.unpad_tokens = False
    return len(blocks)


def prepare_layers(model: nn.Module, args: Any, device: torch.device) -> None:
    """Apply ``--activation_checkpointing`` then ``--compile`` to ``model`` (already on ``device``;
    before any data-parallel wrapper, so that it wraps the prepared layers)."""
    checkpointing, compiling = getattr(args, "activation_checkpointing", False), getattr(args, "compile", False)
    if compiling:
        problem = compiler_problem(device)
        if problem:
            raise UserInputError(problem)
    if checkpointing:
        count = apply_activation_checkpointing(model)
        if count:
            logger.info("activation checkpointing: %d transformer layer(s) recompute their activations in backward",
                        count)
        else:
            logger.warning("--activation_checkpointing: this model has no transformer layers; nothing to recompute")
    if compiling:
        count = compile_blocks(model)
        if count:
            logger.info("torch.compile: %d transformer layer(s), compiled at their first batch", count)
        else:
            logger.warning("--compile: this model has no transformer layers; it runs eagerly")
