"""The conversion scripts' shared main: parse paths, convert with a table, print the report, check parity."""
import argparse
import json
import logging
import os
from typing import Dict, Optional

import torch

from uer.conversion.core import Table, hf_to_uer, uer_to_hf
from uer.conversion.hf_config import hf_config, uer_options
from uer.model_builder import build_model, model_args
from uer.model_loader import load_state_dict_file, load_state_dict_into
from uer.model_saver import atomic_write, save_state_dict
from uer.utils.config import read_json, sidecar_path
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)

# transformers class used by --check, and which of its outputs holds the logits we compare.
HF_CLASSES = {"bert": ("BertForPreTraining", "prediction_logits"), "mlm": ("BertForMaskedLM", "logits"),
              "roberta": ("RobertaForMaskedLM", "logits"), "albert": ("AlbertForPreTraining", "prediction_logits"),
              "gpt2": ("GPT2LMHeadModel", "logits"), "t5": ("T5ForConditionalGeneration", "logits"),
              "t5-v1_1": ("T5ForConditionalGeneration", "logits")}


def conversion_parser(description: str, direction: str, targets=None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--input_model_path", required=True,
                        help="pytorch_model.bin, model.safetensors or a model folder." if direction == "hf2uer"
                        else "A UER checkpoint (.bin or .safetensors).")
    parser.add_argument("--output_model_path", required=True,
                        help="Ends in .safetensors for safetensors; " + (
                            "a folder path (no extension) writes config.json + model.safetensors."
                            if direction == "uer2hf" else "a sidecar .config.json is written beside it."))
    parser.add_argument("--layers_num", type=int, default=None, help="Default: read from the weights.")
    if targets:
        parser.add_argument("--target", choices=targets, default=targets[0])
    parser.add_argument("--config_path", default=None,
                        help="hf2uer: the Hugging Face config.json (default: beside the input). "
                             "uer2hf: a UER config (default: the checkpoint's sidecar).")
    parser.add_argument("--check", dest="check", action="store_true", default=None,
                        help="Run both models on the same input and print the max abs difference "
                             "(default: on when transformers is importable and the config is known).")
    parser.add_argument("--no_check", dest="check", action="store_false")
    return parser


def _find_hf_config(input_path: str, explicit: Optional[str]) -> Optional[Dict]:
    if explicit:
        return read_json(explicit)
    folder = input_path if os.path.isdir(input_path) else os.path.dirname(os.path.abspath(input_path))
    candidate = os.path.join(folder, "config.json")
    return read_json(candidate) if os.path.exists(candidate) else None


def _transformers_available() -> bool:
    try:
        import transformers  # noqa: F401
    except ImportError:
        return False
    return True


def _write_sidecar(path: str, options: Dict) -> None:
    text = json.dumps(options, indent=2, sort_keys=True) + "\n"
    atomic_write(sidecar_path(path), lambda temp: open(temp, "w", encoding="utf-8").write(text))


def max_abs_diff(table: Table, hf_state: Dict[str, torch.Tensor], hf_cfg: Dict, uer_state: Dict[str, torch.Tensor],
                 options: Dict, target: Optional[str]) -> float:
    """Run a random batch through the transformers model and ours; the largest logit difference."""
    import transformers

    class_name, output_name = HF_CLASSES["mlm" if table.name == "bert" and target == "mlm" else table.name]
    config_class = transformers.AutoConfig.for_model(hf_cfg["model_type"])
    config = config_class.from_dict({k: v for k, v in hf_cfg.items() if k != "model_type"})
    hf_model = getattr(transformers, class_name)(config).eval()
    hf_model.load_state_dict(hf_state, strict=False)
    ours = build_model(model_args(dict(options, dropout=0.0)), options["vocab_size"]).eval()
    load_state_dict_into(ours, uer_state)
    generator = torch.Generator().manual_seed(0)
    src = torch.randint(5, options["vocab_size"], (2, 16), generator=generator)
    seg = torch.ones_like(src)
    with torch.no_grad():
        memory = ours.encode(src, seg)
        if table.name.startswith("t5"):
            tgt = src[:, :8]
            expected = hf_model(input_ids=src, decoder_input_ids=tgt).logits
            got, _ = ours.target.decode(memory, seg, tgt)
        else:
            expected = getattr(hf_model(input_ids=src), output_name)
            got = ours.target.mlm_logits(memory) if hasattr(ours.target, "mlm_logits") else ours.target.output_layer(memory)
    return (got - expected).abs().max().item()


def run_hf_to_uer(table: Table, args: argparse.Namespace) -> None:
    target = getattr(args, "target", None)
    hf_state = load_state_dict_file(args.input_model_path)
    uer_state, report = hf_to_uer(hf_state, table, target=target, layers_num=args.layers_num)
    print(report.format("Hugging Face", "UER"))
    hf_cfg = _find_hf_config(args.input_model_path, args.config_path)
    save_state_dict(uer_state, args.output_model_path)
    options = None
    if hf_cfg:
        options = uer_options(table, hf_cfg)
        if target:
            options["target"] = target
        _write_sidecar(args.output_model_path, options)
    print(f"saved {args.output_model_path}" + (" (+ config sidecar)" if hf_cfg else ""))
    _maybe_check(args, table, hf_state, hf_cfg, uer_state, options, target)


def run_uer_to_hf(table: Table, args: argparse.Namespace) -> None:
    target = getattr(args, "target", None)
    uer_state = load_state_dict_file(args.input_model_path)
    hf_state, report = uer_to_hf(uer_state, table, target=target, layers_num=args.layers_num)
    print(report.format("UER", "Hugging Face"))
    config_file = args.config_path or sidecar_path(args.input_model_path)
    options = read_json(config_file) if os.path.exists(config_file) else None
    if options is not None:
        options.setdefault("vocab_size", uer_state["embedding.word_embedding.weight"].size(0))
    hf_cfg = hf_config(table, options) if options else None
    output = args.output_model_path
    if not os.path.splitext(output)[1]:  # a folder: config.json + weights that from_pretrained reads
        if hf_cfg is None:
            raise UserInputError("writing a model folder needs the model's options: give --config_path "
                                 "or keep the checkpoint's .config.json sidecar", path=args.input_model_path)
        os.makedirs(output, exist_ok=True)
        save_state_dict(hf_state, os.path.join(output, "model.safetensors"))
        text = json.dumps(hf_cfg, indent=2) + "\n"
        atomic_write(os.path.join(output, "config.json"), lambda temp: open(temp, "w", encoding="utf-8").write(text))
    else:
        save_state_dict(hf_state, output)
    print(f"saved {output}")
    _maybe_check(args, table, hf_state, hf_cfg, uer_state, options, target)


def _maybe_check(args, table, hf_state, hf_cfg, uer_state, options, target) -> None:
    wanted = args.check
    possible = _transformers_available() and hf_cfg is not None and options is not None
    if wanted and not possible:
        raise UserInputError("--check needs transformers installed and the model config (config.json / sidecar)")
    if wanted is None and not possible:
        return
    if wanted is False:
        return
    diff = max_abs_diff(table, hf_state, hf_cfg, uer_state, options, target)
    print(f"parity check: max abs difference of the logits = {diff:.3e}")
