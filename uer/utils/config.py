"""Option resolution with one rule: defaults < saved model sidecar < --config_path JSON < typed flags.

A Hugging Face model folder given as the model path plays the sidecar's part (its ``config.json``,
read by a reader the model loader registers); there, a typed flag that contradicts what the weights
need (``--layers_num 12`` for a 2-layer folder) is an error instead of silently winning.

The original let the JSON silently override flags the user typed; here typed flags always win.
A ``--config_path`` key that no option knows (a typo would silently leave the default) or a value
of the wrong type stops the command with the file and key; a sidecar written by another script
may carry keys this one lacks, which are only warned about.
"""
import argparse
import difflib
import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set

from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)

# JSON keys that are descriptive only (presets may carry them) and never warned about.
DESCRIPTIVE_KEYS = {"model_type", "description", "vocab_size", "tgt_vocab_size", "data_processor", "labels",
                    "label2id", "format_version", "uer_version", "vocab_files"}
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
    if not os.path.isfile(path):
        raise UserInputError("config file not found", path=path)
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UserInputError(f"not valid UTF-8 ({error.reason})", path=path,
                             line=raw.count(b"\n", 0, error.start) + 1) from None
    if not text.strip():
        raise UserInputError("the file is empty: expected a JSON object of option names and values", path=path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserInputError(f"invalid JSON ({error.msg})", path=path, line=error.lineno) from None
    if not isinstance(data, dict):
        raise UserInputError("expected a JSON object of option names and values", path=path)
    return data


def sidecar_path(model_path: str) -> str:
    return model_path + ".config.json"


@dataclass(frozen=True)
class SavedOptions:
    """Options saved with a model: ``values`` read from ``source``; ``fixed`` names the ones the
    weights depend on, which a flag the user typed must not contradict (empty for our sidecars,
    whose flags simply win)."""

    values: Dict[str, Any]
    source: str
    fixed: FrozenSet[str] = frozenset()


# Readers of the options of a model folder of another toolkit (a Hugging Face config.json): the
# model loader registers them, since uer.utils cannot import the converters (docs/architecture.md).
FOLDER_READERS: List[Callable[[str], Optional[SavedOptions]]] = []
# What a Hugging Face hub id looks like ("bert-base-chinese", "google/bert_uncased"), as opposed to a file.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
_WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".safetensors", ".ckpt")


def missing_model(path: str) -> UserInputError:
    """The error for a model path that does not exist; a hub id is told that a local folder is needed."""
    if _HUB_ID.match(path) and not os.path.splitext(path)[1].startswith(_WEIGHT_SUFFIXES):
        return UserInputError("no such file or folder; uer never downloads, so a Hugging Face hub id needs its "
                              f"folder downloaded first (huggingface-cli download {path} --local-dir "
                              f"{path.split('/')[-1]}) and that local folder given", path=path)
    return UserInputError("model file not found", path=path)


def saved_options(model_path: str) -> Optional[SavedOptions]:
    """The sidecar ``<model>.config.json``, else a registered folder reader's options, else None."""
    if os.path.exists(sidecar_path(model_path)):
        return SavedOptions(read_json(sidecar_path(model_path)), sidecar_path(model_path))
    for reader in FOLDER_READERS:
        found = reader(model_path)
        if found is not None:
            return found
    return None


def check_fixed(args: argparse.Namespace, saved: SavedOptions) -> None:
    """A typed flag (or --config_path value) against an option the saved weights depend on is an error."""
    for key in sorted(saved.fixed):
        if hasattr(args, key) and getattr(args, key) != saved.values[key]:
            raise UserInputError(f"--{key} {getattr(args, key)} contradicts {saved.source}, whose model has "
                                 f"{key} {saved.values[key]}: leave the flag (or --config_path) out, the folder "
                                 f"says what its weights need")


def check_value(action: argparse.Action, value: Any, source: str) -> Any:
    """``value`` of a JSON key checked against the option it sets (type, choices, flag or list);
    a string is converted as the flag's text would be ("2" for an integer option)."""
    key = action.dest
    expected = {int: "an integer", float: "a number", None: "a string", str: "a string"}.get(
        action.type, f"a valid --{key} value")

    def wrong(what: str = expected) -> UserInputError:
        return UserInputError(f"key '{key}': expected {what}, got {json.dumps(value, ensure_ascii=False)}",
                              path=source)

    if value is None:
        if action.default is not None:
            raise wrong(f"{expected} (null is not a setting of this option)")
        return value
    if action.nargs == 0:  # store_true / store_false flags
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if action.nargs in ("+", "*") or isinstance(action.nargs, int):
        if not isinstance(value, list):
            raise wrong("a JSON list")
        item = argparse.Action([], key, type=action.type, choices=action.choices)
        return [check_value(item, element, source) for element in value]
    if isinstance(value, str) and action.type not in (None, str):
        try:
            value = action.type(value)
        except (TypeError, ValueError, argparse.ArgumentTypeError):
            raise wrong() from None
    elif action.type is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise wrong()
    elif action.type is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong()
        value = float(value)
    elif action.type in (None, str) and not isinstance(value, str):
        raise wrong()
    if action.choices is not None and value not in action.choices:
        raise wrong("one of " + ", ".join(map(str, action.choices)))
    return value


def apply_json(args: argparse.Namespace, values: Dict[str, Any], typed: Set[str], source: str,
               known: Iterable[str], parser: Optional[argparse.ArgumentParser] = None,
               strict: bool = False) -> None:
    """Set ``args`` from ``values`` (keys the user typed as flags are kept). With ``parser`` the
    values are type-checked; ``strict`` makes an unknown key an error (else a warning)."""
    known = set(known)
    actions = {action.dest: action for action in parser._actions} if parser is not None else {}
    for key, value in values.items():
        if key in typed:
            continue
        if key in known:
            setattr(args, key, check_value(actions[key], value, source) if key in actions else value)
        elif key in DESCRIPTIVE_KEYS:
            continue
        elif strict:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UserInputError(f"unknown option '{key}'{hint}: the keys are option names without '--'",
                                 path=source)
        else:
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
    saved = None
    for attr in model_path_attrs:
        model_path = getattr(args, attr, None)
        if model_path and not os.path.exists(model_path):
            raise missing_model(model_path)  # before its absent sidecar misleads
        saved = saved_options(model_path) if model_path else None
        if saved is not None:
            apply_json(args, saved.values, typed, saved.source, known, parser)
            break
    config_path = getattr(args, "config_path", None)
    if config_path and ("config_path" in typed or saved is None):
        resolved = resolve_path(config_path)
        if "config_path" in typed or os.path.exists(resolved):
            apply_json(args, read_json(resolved), typed, config_path, known, parser, strict=True)
    if saved is not None:
        check_fixed(args, saved)
    return args
