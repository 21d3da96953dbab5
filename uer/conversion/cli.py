"""The conversion scripts' shared main: parse paths, convert with a table, print the report, check parity."""
import argparse
import importlib.util
import json
import logging
import os
from typing import Dict, Optional, Sequence, Tuple

import torch

from uer.conversion.core import Table, uer_to_hf
from uer.conversion.hf_folder import hf_state_to_uer
from uer.conversion.hf_tokenizer import (TokenizerFiles, check_vocabulary, folder_vocabulary, tokenizer_files,
                                         write_tokenizer)
from uer.conversion.specs import (T5_TYPES, Spec, check_model_type, has_head, hf_config_for, pick_target,
                                  shared_layers, sidecar_options, spec_for, t5_spec)
from uer.conversion.uer_side import check_fits, weights_layers
from uer.model_saver import VOCAB_FILE_OPTIONS, atomic_write, save_state_dict
from uer.utils.cli import script_parser
from uer.utils.config import read_json, resolve_path, sidecar_path
from uer.utils.errors import UserInputError
from uer.weight_files import load_state_dict_file

logger = logging.getLogger(__name__)

# transformers class used by --check, and which of its outputs holds the logits we compare.
HF_CLASSES = {"bert": ("BertForPreTraining", "prediction_logits"), "mlm": ("BertForMaskedLM", "logits"),
              "roberta": ("RobertaForMaskedLM", "logits"), "albert": ("AlbertForPreTraining", "prediction_logits"),
              "gpt2": ("GPT2LMHeadModel", "logits"), "t5": ("T5ForConditionalGeneration", "logits"),
              "t5-v1_1": ("T5ForConditionalGeneration", "logits"), "mt5": ("MT5ForConditionalGeneration", "logits")}
HF_WEIGHT_NAMES = ("model.safetensors", "pytorch_model.bin")
INPUT_HELP = {"hf2uer": "pytorch_model.bin, model.safetensors or a model folder.",
              "uer2hf": "A UER checkpoint (.bin or .safetensors).",
              "google2uer": "The TensorFlow checkpoint prefix (e.g. bert_model.ckpt) or its folder.",
              "uer2google": "A UER checkpoint (.bin or .safetensors)."}
OUTPUT_HELP = {"hf2uer": "Ends in .safetensors for safetensors; a sidecar .config.json is written beside it.",
               "uer2hf": "A folder path (no extension) writes config.json + model.safetensors that transformers' "
                         "from_pretrained loads; a file ending in .safetensors or .bin writes only the weights "
                         "(plus config.json when named model.safetensors / pytorch_model.bin).",
               "google2uer": "Ends in .safetensors for safetensors; a sidecar .config.json is written beside it.",
               "uer2google": "The checkpoint prefix to write (e.g. tf_model/bert_model.ckpt)."}
CONFIG_HELP = {"hf2uer": "The Hugging Face config.json (default: beside the input).",
               "uer2hf": "A UER config (default: the checkpoint's sidecar).",
               "google2uer": "Google's bert_config.json (default: beside the checkpoint).",
               "uer2google": "A UER config (default: the checkpoint's sidecar)."}


def conversion_parser(description: str, direction: str, targets: Optional[Sequence[str]] = None,
                      types: Optional[Sequence[str]] = None) -> argparse.ArgumentParser:
    """Flags shared by every conversion script. ``direction``: hf2uer, uer2hf, google2uer, uer2google;
    ``targets`` adds ``--target`` (which pre-training head), ``types`` adds ``--type`` (T5 variants)."""
    parser = script_parser(description)
    parser.add_argument("--input_model_path", required=True, help=INPUT_HELP[direction])
    parser.add_argument("--output_model_path", required=True, help=OUTPUT_HELP[direction])
    parser.add_argument("--layers_num", type=int, default=None, help="Default: read from the weights.")
    if targets:
        parser.add_argument("--target", choices=list(targets), default=None,
                            help=f"Which pre-training head to convert (default: the one the weights hold, else "
                                 f"{targets[0]}).")
    if types:
        parser.add_argument("--type", choices=list(types), default=None,
                            help="t5 = T5 v1.0; t5-v1_1 = gated feed-forward, own output layer; mt5 = the same as "
                                 "a Hugging Face 'mt5' model (default: what the weights and config show).")
    parser.add_argument("--config_path", default=None, help=CONFIG_HELP[direction])
    parser.add_argument("--check", dest="check", action="store_true", default=None,
                        help="Run both models on the same input and print the max abs difference "
                             "(default: on when transformers is importable and the config is known).")
    parser.add_argument("--no_check", dest="check", action="store_false")
    if direction == "uer2hf":
        tokenizer_flags(parser)
    return parser


def tokenizer_flags(parser: argparse.ArgumentParser) -> None:
    """Where the exported folder's tokenizer files come from (uer2hf only)."""
    group = parser.add_argument_group("tokenizer of the exported folder")
    group.add_argument("--vocab_path", default=None,
                       help="The model's vocabulary: vocab.txt (WordPiece, BertTokenizer) or a BPE vocab.json "
                            "(with --merges_path). Default: the one the checkpoint's sidecar records (vocab_files); "
                            "a folder needs one (see --no_tokenizer).")
    group.add_argument("--spm_model_path", default=None, help="The model's SentencePiece model (ALBERT, T5).")
    group.add_argument("--merges_path", default=None, help="merges.txt of a byte-level BPE vocab.json (GPT-2, "
                                                           "RoBERTa).")
    group.add_argument("--no_tokenizer", action="store_true",
                       help="Write the weights and config.json only (the folder then has no tokenizer).")


def config_beside(input_path: str, name: str, explicit: Optional[str]) -> Optional[str]:
    """--config_path, else the file ``name`` in the input's folder when there is one."""
    if explicit:
        return explicit
    folder = input_path if os.path.isdir(input_path) else os.path.dirname(os.path.abspath(input_path))
    candidate = os.path.join(folder, name)
    return candidate if os.path.exists(candidate) else None


def read_uer_options(args: argparse.Namespace, state: Dict[str, torch.Tensor]) -> Tuple[Optional[Dict], str]:
    """(options, file) of a UER checkpoint: --config_path (a preset name works) or its sidecar."""
    path = resolve_path(args.config_path) if args.config_path else sidecar_path(args.input_model_path)
    if not os.path.exists(path):
        if args.config_path:
            raise UserInputError("config file not found", path=args.config_path)
        return None, path
    options = read_json(path)
    if "embedding.word_embedding.weight" in state:
        options.setdefault("vocab_size", state["embedding.word_embedding.weight"].size(0))
    return options, path


def write_json(path: str, data: Dict) -> None:
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def write(temp: str) -> None:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)

    atomic_write(path, write)


def run_hf_to_uer(table: "Table | Spec", args: argparse.Namespace) -> None:
    """Hugging Face weights (+ config.json) -> UER weights + sidecar, report, optional parity check."""
    spec = spec_for(table)
    hf_state = load_state_dict_file(args.input_model_path)
    config_file = config_beside(args.input_model_path, "config.json", args.config_path)
    hf_cfg = read_json(config_file) if config_file else None
    if hf_cfg:
        check_model_type(spec, hf_cfg, config_file)
    spec, target, uer_state, report = hf_state_to_uer(spec, hf_state, hf_cfg, getattr(args, "type", None),
                                                      getattr(args, "target", None), args.layers_num)
    print(report.format("Hugging Face", "UER"))
    options = None
    if hf_cfg:
        options = sidecar_options(spec, hf_cfg, uer_state, target)
        check_fits(spec, target, uer_state, options, report.layers_num, config_file)
        recorded = tokenizer_beside(config_file)
        if recorded:
            options["vocab_files"] = recorded
    save_state_dict(uer_state, args.output_model_path)
    if options:
        write_json(sidecar_path(args.output_model_path), options)
    print(f"saved {args.output_model_path}" + (" (+ config sidecar)" if options else
                                               " (no config.json found: no sidecar, no parity check)"))
    maybe_check(args, spec, hf_state, hf_cfg, uer_state, options, target)


def tokenizer_beside(config_file: str) -> Dict[str, str]:
    """The tokenizer files in the folder of a Hugging Face config.json (vocab.txt, a SentencePiece
    model, or GPT-2/RoBERTa's vocab.json + merges.txt), as the sidecar's ``vocab_files``: the
    converted checkpoint then exports back to a folder with the same tokenizer."""
    found = folder_vocabulary(os.path.dirname(os.path.abspath(config_file)))
    return {key: os.path.abspath(found[key]) for key in VOCAB_FILE_OPTIONS if found.get(key)}


def run_uer_to_hf(table: "Table | Spec", args: argparse.Namespace) -> None:
    """UER weights (+ sidecar) -> Hugging Face weights, or a from_pretrained folder; report, parity check."""
    spec = spec_for(table)
    uer_state = load_state_dict_file(args.input_model_path)
    options, config_file = read_uer_options(args, uer_state)
    if spec.name in T5_TYPES:
        gated = any(".feed_forward.linear_gate." in key for key in uer_state)
        spec = t5_spec(getattr(args, "type", None), gated, (options or {}).get("model_type"))
    layers = shared_layers(spec, args.layers_num, options)
    found = weights_layers(spec, uer_state)
    target = pick_target(spec, getattr(args, "target", None), (options or {}).get("target"),
                         lambda t: has_head(spec, t, uer_state, found))
    hf_state, report = uer_to_hf(uer_state, spec.table, target=target, layers_num=layers)
    print(report.format("UER", "Hugging Face"))
    hf_cfg = None
    if options is not None:
        options = dict(options, target=target) if target else options
        check_fits(spec, target, uer_state, options, report.layers_num, config_file)
        hf_cfg = hf_config_for(spec, options, uer_state, has_head(spec, target, uer_state, report.layers_num))
    output = args.output_model_path
    folder = None if os.path.splitext(output)[1] else output
    if folder is None and os.path.basename(output) in HF_WEIGHT_NAMES:
        folder = os.path.dirname(os.path.abspath(output))  # a standard file name: make its folder loadable
    if folder is not None and hf_cfg is None:
        raise UserInputError("writing a model folder needs the model's options: give --config_path "
                             "or keep the checkpoint's .config.json sidecar", path=args.input_model_path)
    vocabulary = export_vocabulary(args, options or {}, hf_cfg) if folder is not None else None
    weights = os.path.join(output, "model.safetensors") if folder == output else output
    save_state_dict(hf_state, weights)
    if folder is not None:
        write_json(os.path.join(folder, "config.json"), hf_cfg)
    print(f"saved {weights}" + (f" and {os.path.join(folder, 'config.json')}" if folder else ""))
    if vocabulary is not None:
        written = write_tokenizer(folder, vocabulary, hf_cfg["model_type"], (options or {}).get("max_seq_length"))
        print(f"tokenizer: {written}")
    maybe_check(args, spec, hf_state, hf_cfg, uer_state, options, target)


def export_vocabulary(args: argparse.Namespace, options: Dict, hf_cfg: Dict) -> Optional[TokenizerFiles]:
    """The vocabulary the exported folder's tokenizer is written from, checked against the model;
    None with --no_tokenizer. A folder without a tokenizer would read every text as [UNK]s, so an
    unknown vocabulary is an error rather than a silent weights-only export."""
    if args.no_tokenizer:
        return None
    files = tokenizer_files(args.vocab_path, args.spm_model_path, args.merges_path)
    recorded = options.get("vocab_files") or {}
    if files is None and recorded:  # the files the checkpoint was trained with, as its sidecar records them
        files = tokenizer_files(recorded.get("vocab_path"), recorded.get("spm_model_path"), recorded.get("merges_path"))
        if not os.path.isfile(files.path):
            raise UserInputError(f"the sidecar records the vocabulary {files.path}, which does not exist (any "
                                 f"more): give --vocab_path or --spm_model_path", path=args.input_model_path)
        print(f"tokenizer from the vocabulary the sidecar records: {files.path}")
    if files is None:
        raise UserInputError("the exported folder needs the model's vocabulary for its tokenizer: give "
                             "--vocab_path (vocab.txt), --spm_model_path, or --vocab_path vocab.json with "
                             "--merges_path; --no_tokenizer writes the weights and config.json only",
                             path=args.input_model_path)
    check_vocabulary(files, hf_cfg.get("vocab_size"), hf_cfg["model_type"])
    if options.get("tokenizer") in ("char", "space") and files.kind == "wordpiece":
        logger.warning("the model was trained with --tokenizer %s, which Hugging Face does not have: the folder "
                       "gets BertTokenizer, which splits Chinese characters the same way but cuts other words "
                       "into WordPiece pieces", options["tokenizer"])
    return files


def max_abs_diff(table: "Table | Spec", hf_state: Dict[str, torch.Tensor], hf_cfg: Dict,
                 uer_state: Dict[str, torch.Tensor], options: Dict, target: Optional[str]) -> float:
    """Run a random batch through the transformers model and ours; the largest output difference."""
    from uer.conversion.parity import parity

    return max(parity(spec_for(table), target, hf_state, hf_cfg, uer_state, options).values())


def _transformers_available() -> bool:
    return importlib.util.find_spec("transformers") is not None


def maybe_check(args: argparse.Namespace, spec: Spec, hf_state: Dict[str, torch.Tensor], hf_cfg: Optional[Dict],
                uer_state: Dict[str, torch.Tensor], options: Optional[Dict],
                target: Optional[str]) -> Optional[Dict[str, float]]:
    """The parity check when asked (--check), or by default when transformers and the config are there."""
    possible = _transformers_available() and hf_cfg is not None and options is not None
    if args.check and not possible:
        raise UserInputError("--check needs transformers installed and the model config (config.json / sidecar)")
    if not possible or args.check is False:
        return None
    from uer.conversion.parity import format_parity, parity

    diffs = parity(spec, target, hf_state, hf_cfg, uer_state, options)
    print(format_parity(spec, diffs))
    return diffs
