"""Google's TensorFlow BERT checkpoints (``bert_model.ckpt``) <-> UER, through one key table.

TensorFlow is an optional extra (``pip install uer[tf]``): it is imported only when a checkpoint is
read or written. Kernels are stored [in x out] in TensorFlow and [out x in] in torch; Google's MLM
output layer is the word embedding matrix itself (tied), with only ``cls/predictions/output_bias``.
"""
import argparse
import logging
import os
import re
from typing import Dict, List, Optional

import numpy as np
import torch

from uer.conversion.cli import config_beside, maybe_check, read_uer_options, write_json
from uer.conversion.core import IDENTITY, TRANSPOSE, Rule, Table, hf_to_uer, segment_table, uer_to_hf
from uer.conversion.specs import SPECS, has_head, hf_config_for, pick_target, sidecar_options
from uer.conversion.tables import LAYER
from uer.conversion.uer_side import check_fits, weights_layers
from uer.model_saver import save_state_dict
from uer.utils.config import read_json, sidecar_path
from uer.utils.errors import UserInputError
from uer.weight_files import load_state_dict_file

logger = logging.getLogger(__name__)

# Optimizer slots and step counters sit beside the weights in training checkpoints: not model data.
OPTIMIZER_VARIABLES = r"(adam_[mv]|Adam(_\d+)?|global_step|bad_steps|good_steps|loss_scale)$"


def _dense(tf_name: str, uer_name: str, targets=None) -> List[Rule]:
    return [Rule(f"{tf_name}/kernel", (f"{uer_name}.weight",), TRANSPOSE, targets=targets),
            Rule(f"{tf_name}/bias", (f"{uer_name}.bias",), targets=targets)]


def _norm(tf_name: str, uer_name: str, targets=None) -> List[Rule]:
    return [Rule(f"{tf_name}/gamma", (f"{uer_name}.gamma",), targets=targets),
            Rule(f"{tf_name}/beta", (f"{uer_name}.beta",), targets=targets)]


def _google_bert_table() -> Table:
    tf_layer = "bert/encoder/layer_{i}/"
    rules = [Rule("bert/embeddings/word_embeddings", ("embedding.word_embedding.weight",)),
             Rule("bert/embeddings/position_embeddings", ("embedding.position_embedding.weight",)),
             Rule("bert/embeddings/token_type_embeddings", ("embedding.segment_embedding.weight",), segment_table(2))]
    rules += _norm("bert/embeddings/LayerNorm", "embedding.layer_norm")
    for tf_name, uer_name in (("attention/self/query", "self_attn.linear_layers.0"),
                              ("attention/self/key", "self_attn.linear_layers.1"),
                              ("attention/self/value", "self_attn.linear_layers.2"),
                              ("attention/output/dense", "self_attn.final_linear"),
                              ("intermediate/dense", "feed_forward.linear_1"),
                              ("output/dense", "feed_forward.linear_2")):
        rules += _dense(tf_layer + tf_name, LAYER + uer_name)
    rules += _norm(tf_layer + "attention/output/LayerNorm", LAYER + "layer_norm_1")
    rules += _norm(tf_layer + "output/LayerNorm", LAYER + "layer_norm_2")
    rules += _dense("bert/pooler/dense", "target.nsp_linear_1", targets=("bert",))
    rules += [Rule("cls/seq_relationship/output_weights", ("target.nsp_linear_2.weight",), IDENTITY, targets=("bert",)),
              Rule("cls/seq_relationship/output_bias", ("target.nsp_linear_2.bias",), targets=("bert",))]
    mlm = ("bert", "mlm")
    rules += _dense("cls/predictions/transform/dense", "target.mlm_linear_1", targets=mlm)
    rules += _norm("cls/predictions/transform/LayerNorm", "target.layer_norm", targets=mlm)
    rules += [Rule("cls/predictions/output_bias", ("target.mlm_linear_2.bias",), targets=mlm),
              Rule("", ("target.mlm_linear_2.weight",), fallback="bert/embeddings/word_embeddings",
                   fallback_requires="cls/predictions/output_bias", targets=mlm)]
    return Table("google_bert", rules, ignore=(OPTIMIZER_VARIABLES,))


GOOGLE_BERT = _google_bert_table()


def _tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter would bury the report
    try:
        import tensorflow as tf
    except ImportError:
        raise UserInputError("TensorFlow checkpoints need TensorFlow: pip install tensorflow-cpu "
                             "(or pip install uer[tf])") from None
    return tf


def read_tf_checkpoint(path: str) -> Dict[str, torch.Tensor]:
    """Every model variable of a TensorFlow checkpoint (prefix ``bert_model.ckpt`` or its folder)."""
    if not os.path.exists(path) and not os.path.exists(path + ".index"):  # before importing TensorFlow (seconds)
        raise UserInputError("TensorFlow checkpoint not found (expected the prefix of its .index and .data files, "
                             "e.g. bert_model.ckpt, or their folder)", path=path)
    tf = _tensorflow()
    if os.path.isdir(path) and not os.path.exists(os.path.join(path, "checkpoint")):
        # Google's downloads have no "checkpoint" index file: take the folder's one checkpoint.
        prefixes = sorted(name[:-len(".index")] for name in os.listdir(path) if name.endswith(".index"))
        if len(prefixes) != 1:
            raise UserInputError(f"expected one TensorFlow checkpoint (*.index) in this folder, found "
                                 f"{len(prefixes)}: give its prefix, e.g. bert_model.ckpt", path=path)
        path = os.path.join(path, prefixes[0])
    try:
        reader = tf.train.load_checkpoint(path)
    except (ValueError, tf.errors.OpError) as error:
        raise UserInputError(f"cannot read a TensorFlow checkpoint here (give the prefix, e.g. bert_model.ckpt, "
                             f"of its .index and .data files): {str(error).splitlines()[0]}", path=path) from None
    optimizer = re.compile(OPTIMIZER_VARIABLES)
    names = sorted(reader.get_variable_to_shape_map())
    skipped = [name for name in names if optimizer.search(name)]
    if skipped:
        logger.info("%s: %d optimizer variables not read (%s ...)", path, len(skipped), skipped[0])
    return {name: torch.from_numpy(np.array(reader.get_tensor(name))) for name in names if name not in skipped}


def write_tf_checkpoint(state: Dict[str, torch.Tensor], path: str) -> List[str]:
    """Write ``state`` as a name-based TensorFlow checkpoint at prefix ``path`` (as Google's BERT ships);
    returns the files written. Written under a temporary prefix then renamed, so readers never see
    half a checkpoint."""
    tf = _tensorflow()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    names = sorted(state)
    tensors = [tf.constant(state[name].detach().cpu().float().numpy()) for name in names]
    try:
        tf.raw_ops.SaveV2(prefix=temp, tensor_names=names, shape_and_slices=[""] * len(names), tensors=tensors)
        written = []
        for suffix in sorted(name[len(temp):] for name in _files_with_prefix(temp)):
            os.replace(temp + suffix, path + suffix)
            written.append(path + suffix)
    finally:
        for leftover in _files_with_prefix(temp):
            os.remove(leftover)
    return written


def _files_with_prefix(prefix: str) -> List[str]:
    directory, base = os.path.split(prefix)
    return [os.path.join(directory, name) for name in os.listdir(directory) if name.startswith(base + ".")]


def google_config(options: Dict) -> Dict:
    """``bert_config.json`` as Google's BERT reads it, from UER options."""
    config = hf_config_for(SPECS["bert"], options, {}, head=False)
    google = {key: config[key] for key in ("hidden_size", "num_attention_heads", "intermediate_size",
                                           "num_hidden_layers", "hidden_act", "vocab_size", "type_vocab_size",
                                           "max_position_embeddings", "hidden_dropout_prob",
                                           "attention_probs_dropout_prob")}
    return dict(google, initializer_range=0.02)


def run_google_to_uer(args: argparse.Namespace) -> None:
    """Google TF BERT checkpoint (+ bert_config.json) -> UER weights + sidecar, report, parity check."""
    spec = SPECS["bert"]
    tf_state = read_tf_checkpoint(args.input_model_path)
    config_file = config_beside(args.input_model_path, "bert_config.json", args.config_path)
    google_cfg = read_json(config_file) if config_file else None
    heads = {"bert": "cls/seq_relationship/output_bias", "mlm": "cls/predictions/output_bias"}
    target = pick_target(spec, getattr(args, "target", None), None, lambda t: heads[t] in tf_state)
    uer_state, report = hf_to_uer(tf_state, GOOGLE_BERT, target=target, layers_num=args.layers_num)
    print(report.format("TensorFlow", "UER"))
    options = None
    if google_cfg:
        options = sidecar_options(spec, dict(google_cfg, model_type="bert"), uer_state, target)
        check_fits(spec, target, uer_state, options, report.layers_num, config_file)
    save_state_dict(uer_state, args.output_model_path)
    if options:
        write_json(sidecar_path(args.output_model_path), options)
    print(f"saved {args.output_model_path}" + (" (+ config sidecar)" if options else
                                               " (no bert_config.json found: no sidecar, no parity check)"))
    _check_as_bert(args, uer_state, options, target)


def run_uer_to_google(args: argparse.Namespace) -> None:
    """UER BERT weights (+ sidecar) -> a Google TF checkpoint (+ bert_config.json), report, parity check."""
    spec = SPECS["bert"]
    uer_state = load_state_dict_file(args.input_model_path)
    options, config_file = read_uer_options(args, uer_state)
    found = weights_layers(spec, uer_state)
    target = pick_target(spec, getattr(args, "target", None), (options or {}).get("target"),
                         lambda t: has_head(spec, t, uer_state, found))
    tf_state, report = uer_to_hf(uer_state, GOOGLE_BERT, target=target, layers_num=args.layers_num)
    print(report.format("UER", "TensorFlow"))
    if options is not None:
        options = dict(options, target=target)
        check_fits(spec, target, uer_state, options, report.layers_num, config_file)
    written = write_tf_checkpoint(tf_state, args.output_model_path)
    if options is not None:
        written.append(os.path.join(os.path.dirname(os.path.abspath(args.output_model_path)), "bert_config.json"))
        write_json(written[-1], google_config(options))
    print("saved " + ", ".join(written))
    _check_as_bert(args, uer_state, options, target)


def _check_as_bert(args: argparse.Namespace, uer_state: Dict[str, torch.Tensor], options: Optional[Dict],
                   target: Optional[str]) -> None:
    """TensorFlow is not run: the check compares our model with transformers' BERT on the same weights."""
    if options is None:
        if args.check:
            raise UserInputError("--check needs the model config (bert_config.json / sidecar)")
        return
    spec = SPECS["bert"]
    hf_state, _ = uer_to_hf(uer_state, spec.table, target=target)
    head = has_head(spec, target, uer_state, weights_layers(spec, uer_state))
    maybe_check(args, spec, hf_state, hf_config_for(spec, options, uer_state, head), uer_state, options, target)
