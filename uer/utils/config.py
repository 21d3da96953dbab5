"""Option resolution with one rule: defaults < saved model sidecar < --config_path JSON < typed flags.

The original let the JSON silently override flags the user typed; here typed flags always win,
and JSON keys that no option knows are warned about instead of being absorbed.
"""
import argparse
import json
import logging
import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set

from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)

# JSON keys that are descriptive only (presets may carry them) and never warned about.
DESCRIPTIVE_KEYS = {"model_type", "description", "vocab_size", "tgt_vocab_size", "data_processor", "labels",
                    "label2id", "format_version", "uer_version"}
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def typed_dests(parser: argparse.ArgumentParser, argv: Sequence[str]) -> Set[str]:
    """The destinations the user set explicitly on the command line."""
    saved = {action: action.default for action in parser._actions}
    saved_defaults = dict(parser._defaults)  # parser.set_defaults(...) values are not typed either
    try:
        for action in parser._actions:
            action.default = argparse.SUPPRESS
        parser._defaults.clear()
        namespace, _ = parser.parse_known_args(argv)
    finally:
        for action, default in saved.items():
            action.default = default
        parser._defaults.update(saved_defaults)
    return set(vars(namespace))


def resolve_path(path: str) -> str:
    """A relative preset path is looked up in the cwd, then in the repository (``models/...``)."""
    if os.path.exists(path) or os.path.isabs(path):
        return path
    candidate = os.path.join(REPO_ROOT, path)
    return candidate if os.path.exists(candidate) else path


def read_json(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise UserInputError("config file not found", path=path) from None
    except json.JSONDecodeError as error:
        raise UserInputError(f"invalid JSON ({error.msg})", path=path, line=error.lineno) from None
    if not isinstance(data, dict):
        raise UserInputError("expected a JSON object of option names and values", path=path)
    return data


def sidecar_path(model_path: str) -> str:
    return model_path + ".config.json"


def apply_json(args: argparse.Namespace, values: Dict[str, Any], typed: Set[str], source: str,
               known: Iterable[str]) -> None:
    known = set(known)
    for key, value in values.items():
        if key in typed:
            continue
        if key in known:
            setattr(args, key, value)
        elif key not in DESCRIPTIVE_KEYS:
            logger.warning("%s: unknown option '%s' ignored", source, key)


def parse_args(parser: argparse.ArgumentParser, argv: Optional[List[str]] = None,
               model_path_attrs: Sequence[str] = ("load_model_path", "pretrained_model_path")) -> argparse.Namespace:
    """Parse and resolve options once; treat the result as read-only afterwards.

    The first of ``model_path_attrs`` naming a checkpoint with a sidecar contributes the saved
    options (architecture, sizes, task metadata), so inference needs only the model path. A
    ``--config_path`` the user typed is applied over it; the default preset is applied only when no
    sidecar was found.
    """
    argv = list(argv) if argv is not None else None
    args = parser.parse_args(argv)
    import sys
    typed = typed_dests(parser, argv if argv is not None else sys.argv[1:])
    known = set(vars(args))
    sidecar_found = False
    for attr in model_path_attrs:
        model_path = getattr(args, attr, None)
        if model_path and os.path.exists(sidecar_path(model_path)):
            apply_json(args, read_json(sidecar_path(model_path)), typed, sidecar_path(model_path), known)
            sidecar_found = True
            break
    config_path = getattr(args, "config_path", None)
    if config_path and ("config_path" in typed or not sidecar_found):
        resolved = resolve_path(config_path)
        if "config_path" in typed or os.path.exists(resolved):
            apply_json(args, read_json(resolved), typed, config_path, known)
    return args
