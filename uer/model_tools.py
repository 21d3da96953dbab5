"""Checkpoint utilities behind the scripts/ tools, on top of the model builder, loader and saver.

Inference loading, key checks, averaging, ``module.`` prefixes, sidecars, embedding tables
(nearest neighbours, word2vec text).
"""
import argparse
import json
import logging
import os
import shutil
from argparse import Namespace
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from uer.model_builder import build_embedding_encoder, build_model
from uer.model_loader import LoadReport, load_model, require_backbone
from uer.model_saver import atomic_write
from uer.utils.config import sidecar_path
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)

StateDict = Dict[str, torch.Tensor]
WORD_EMBEDDING_KEY = "embedding.word_embedding.weight"


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_option_default(parser: argparse.ArgumentParser, dest: str, value: Any) -> None:
    """Change one option's default. ``parser.set_defaults`` would also record it as a parser-level
    default, which ``uer.utils.config.typed_dests`` then mistakes for a flag the user typed."""
    for action in parser._actions:
        if action.dest == dest:
            action.default = value
            return
    raise KeyError(dest)


def read_sidecar(model_path: str) -> dict:
    """The options saved beside ``model_path`` (``<model>.config.json``), or ``{}``."""
    path = sidecar_path(model_path)
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as error:
            raise UserInputError(f"invalid JSON ({error.msg})", path=path, line=error.lineno) from None


def copy_sidecar(src_model_path: str, dst_model_path: str, updates: Optional[dict] = None) -> bool:
    """Give ``dst_model_path`` the sidecar of ``src_model_path`` (with ``updates``); False when none."""
    if not os.path.exists(sidecar_path(src_model_path)):
        return False
    if not updates:
        atomic_write(sidecar_path(dst_model_path), lambda temp: shutil.copyfile(sidecar_path(src_model_path), temp))
        return True
    config = {**read_sidecar(src_model_path), **updates}
    text = json.dumps(config, indent=2, ensure_ascii=False, sort_keys=True) + "\n"

    def write(temp: str) -> None:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)

    atomic_write(sidecar_path(dst_model_path), write)
    return True


def untied_missing(model: nn.Module, report: LoadReport) -> List[str]:
    """Missing keys that no loaded tensor fills through weight tying (a tied output layer is fine)."""
    state = model.state_dict()
    loaded = {state[key].data_ptr() for key in report.loaded if state[key].numel()}
    return [key for key in report.missing if not state[key].numel() or state[key].data_ptr() not in loaded]


def load_for_inference(args: Namespace, vocab_size: int, model_path: str, tgt_vocab_size: Optional[int] = None,
                       backbone_only: bool = False, required: Optional[Sequence[str]] = None) -> nn.Module:
    """Build the model the options describe, load ``model_path`` and put it in eval mode on the device.

    ``backbone_only`` builds just ``embedding`` and ``encoder`` (a ModuleDict; any checkpoint with
    them loads, fine-tuned or not). A missing tensor (among the ``required`` key prefixes, default
    all) is an error, since predictions from a randomly initialised layer would be meaningless,
    unless weight tying fills it.
    """
    if backbone_only:
        embedding, encoder = build_embedding_encoder(args, vocab_size)
        model = nn.ModuleDict({"embedding": embedding, "encoder": encoder})
    else:
        model = build_model(args, vocab_size, tgt_vocab_size)
    report = load_model(model, model_path)
    require_backbone(report, model_path)
    missing = [key for key in untied_missing(model, report) if required is None or key.startswith(tuple(required))]
    if missing:
        shown = ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
        raise UserInputError(f"the checkpoint lacks {len(missing)} tensors this model needs ({shown}); check "
                             f"--target and the architecture options (or the model's .config.json)", path=model_path)
    return model.to(pick_device()).eval()


@dataclass
class KeyCheck:
    """How a checkpoint's tensors compare with a model's."""

    matched: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, tuple, tuple]] = field(default_factory=list)  # key, checkpoint, model shape

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)


def compare_keys(model_state: StateDict, checkpoint: StateDict) -> KeyCheck:
    check = KeyCheck()
    for key, tensor in checkpoint.items():
        if key not in model_state:
            check.unexpected.append(key)
        elif tuple(tensor.shape) != tuple(model_state[key].shape):
            check.mismatched.append((key, tuple(tensor.shape), tuple(model_state[key].shape)))
        else:
            check.matched.append(key)
    check.missing = [key for key in model_state if key not in checkpoint]
    return check


def realias(new_state: StateDict, old_state: StateDict) -> StateDict:
    """Keys that shared one tensor in ``old_state`` (tied weights) share one in ``new_state`` too."""
    first_key: Dict[int, str] = {}
    for key, tensor in old_state.items():
        if not tensor.numel():
            continue
        owner = first_key.setdefault(tensor.data_ptr(), key)
        if owner != key and key in new_state and owner in new_state and torch.equal(new_state[key], new_state[owner]):
            new_state[key] = new_state[owner]
    return new_state


def average_state_dicts(state_dicts: Sequence[StateDict], paths: Sequence[str]) -> StateDict:
    """Element-wise mean of checkpoints with identical keys and shapes (floating tensors averaged in
    float64 then cast back; other tensors must be equal)."""
    first, reference = state_dicts[0], paths[0]
    for state, path in zip(state_dicts[1:], paths[1:]):
        if set(state) != set(first):
            only_here = sorted(set(state) - set(first))[:5]
            only_there = sorted(set(first) - set(state))[:5]
            raise UserInputError(f"its tensors differ from those of {reference} (only here: {only_here}; "
                                 f"only there: {only_there})", path=path)
        for key, tensor in state.items():
            if tensor.shape != first[key].shape:
                raise UserInputError(f"tensor '{key}' has shape {tuple(tensor.shape)}, but "
                                     f"{tuple(first[key].shape)} in {reference}", path=path)
    averaged: StateDict = {}
    for key, tensor in first.items():
        if tensor.is_floating_point():
            total = sum(state[key].double() for state in state_dicts)
            averaged[key] = (total / len(state_dicts)).to(tensor.dtype)
        else:
            for state, path in zip(state_dicts[1:], paths[1:]):
                if not torch.equal(state[key], tensor):
                    raise UserInputError(f"non-float tensor '{key}' differs from {reference}; it cannot be averaged",
                                         path=path)
            averaged[key] = tensor.clone()
    return realias(averaged, first)


def change_module_prefix(state_dict: StateDict, add: bool) -> StateDict:
    """Add ``module.`` to every key (a DataParallel-style checkpoint) or drop it."""
    if add:
        return {"module." + key: value for key, value in state_dict.items()}
    return {key[len("module."):] if key.startswith("module.") else key: value for key, value in state_dict.items()}


def word_embedding(state_dict: StateDict, path: str, vocab_size: int, vocab_path: Optional[str] = None) -> torch.Tensor:
    """The [vocab_size x emb_size] input embedding of a checkpoint, checked against the vocabulary."""
    if WORD_EMBEDDING_KEY not in state_dict:
        raise UserInputError(f"no '{WORD_EMBEDDING_KEY}' tensor in this checkpoint", path=path)
    matrix = state_dict[WORD_EMBEDDING_KEY].float()
    if matrix.size(0) != vocab_size:
        raise UserInputError(f"the embedding has {matrix.size(0)} rows but the vocabulary {vocab_path or ''} has "
                             f"{vocab_size} tokens: use the vocabulary the model was trained with", path=path)
    return matrix


def nearest(matrix: torch.Tensor, queries: torch.Tensor, topn: int,
            exclude: Optional[Sequence[int]] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Cosine top-n rows of matrix [N x E] for queries [Q x E] -> (ids [Q x n], scores [Q x n]).

    ``exclude[q]`` (e.g. the query word itself) is never returned for query q.
    """
    normed = torch.nn.functional.normalize(matrix.float(), dim=-1)
    scores = torch.nn.functional.normalize(queries.float(), dim=-1) @ normed.T
    if exclude is not None:
        for row, index in enumerate(exclude):
            if index is not None and index >= 0:
                scores[row, index] = float("-inf")
    topn = min(topn, matrix.size(0) - (1 if exclude is not None else 0))
    values, ids = scores.topk(max(topn, 0), dim=-1)
    return ids, values


def write_word2vec(path: str, tokens: Sequence[str], matrix: torch.Tensor) -> int:
    """word2vec text format: ``V E`` then ``token v1 ... vE`` per line, atomically. Tokens holding
    white space cannot be written in this format: they are left out with a warning. Returns V."""
    rows = [(token, vector) for token, vector in zip(tokens, matrix.tolist()) if token and not any(
        ch.isspace() for ch in token)]
    skipped = len(tokens) - len(rows)
    if skipped:
        logger.warning("%d tokens containing white space (e.g. the ' ' token) are not written: word2vec text "
                       "separates fields with spaces", skipped)

    def write(temp: str) -> None:
        with open(temp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(f"{len(rows)} {matrix.size(1)}\n")
            for token, vector in rows:
                handle.write(token + " " + " ".join(f"{value:.6g}" for value in vector) + "\n")

    atomic_write(path, write)
    return len(rows)
