"""Load checkpoints (UER-py ``.bin`` of any torch version, ``.safetensors``, or a Hugging Face model
folder read in place) with a report."""
import logging
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from uer.conversion.hf_folder import FREE_OPTIONS, folder_options, is_hf_folder, read_hf_folder
from uer.model_saver import unwrap
from uer.utils.config import FOLDER_READERS, SavedOptions
from uer.utils.errors import UserInputError
from uer.weight_files import load_state_dict_file

logger = logging.getLogger(__name__)


def hf_folder_options(path: str) -> Optional[SavedOptions]:
    """The options of a Hugging Face folder for ``parse_args``, or None for any other path."""
    if not is_hf_folder(path):
        return None
    options = folder_options(path)
    return SavedOptions(options, f"{path}/config.json", frozenset(options) - FREE_OPTIONS)


FOLDER_READERS.append(hf_folder_options)


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


def read_checkpoint(path: str) -> Dict[str, torch.Tensor]:
    """UER-keyed weights of a checkpoint file, or of a Hugging Face folder (converted, report logged)."""
    if is_hf_folder(path):
        folder = read_hf_folder(path)
        for line in folder.report:
            logger.info("%s", line)
        return folder.state
    return load_state_dict_file(path)


def load_model(model: nn.Module, path: str) -> LoadReport:
    """Load a checkpoint file or Hugging Face folder into ``model`` non-strictly and report what happened."""
    return load_state_dict_into(model, read_checkpoint(path), source=path)
