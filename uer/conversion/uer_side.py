"""The UER model a converted checkpoint belongs to: built from its options to check the weights fit
(shapes, layer count) and to compute the outputs the parity check compares with ``transformers``."""
from typing import Dict, Optional

import torch
import torch.nn as nn

from uer.conversion.core import count_layers
from uer.conversion.hf_config import architecture
from uer.conversion.specs import BACKBONE_PREFIXES, Spec, has_head
from uer.model_builder import build_embedding_encoder, build_model, model_args
from uer.models.backbone import EncoderHead
from uer.models.classifier import Classifier
from uer.models.tagger import Tagger
from uer.utils.errors import UserInputError

Tensor = torch.Tensor


class ExtractiveQaHead(EncoderHead):
    """run_cmrc's head: ``output_layer`` [2 x hidden_size] scores every token as answer start (row 0)
    and end (row 1), as Hugging Face's ``qa_outputs``."""

    head_prefixes = ("output_layer.",)

    def __init__(self, embedding: nn.Module, encoder: nn.Module, hidden_size: int):
        super().__init__(embedding, encoder)
        self.output_layer = nn.Linear(hidden_size, 2)


def _labels_num(state: Dict[str, Tensor], key: str, extra: int = 0) -> int:
    return state[key].size(0) - extra if key in state else 2


def build_uer_model(spec: Spec, options: Dict, head: bool, state: Dict[str, Tensor]) -> nn.Module:
    """The UER model for ``options`` (dropout off); with ``head=False`` only embedding + encoder."""
    args = model_args(dict(options, dropout=0.0))
    vocab_size = options["vocab_size"]
    if head and spec.task is None:
        return build_model(args, vocab_size)
    embedding, encoder = build_embedding_encoder(args, vocab_size)
    if not head:
        return EncoderHead(embedding, encoder)
    if spec.task == "classification":
        return Classifier(embedding, encoder, args.hidden_size, _labels_num(state, "output_layer_2.weight"), "first")
    if spec.task == "tagging":
        return Tagger(embedding, encoder, args.hidden_size, _labels_num(state, "output_layer.weight", extra=1))
    return ExtractiveQaHead(embedding, encoder, args.hidden_size)


def check_fits(spec: Spec, target: Optional[str], state: Dict[str, Tensor], options: Dict, layers_num: int,
               source: str) -> None:
    """Stop with a clear message when the weights do not fit the config (architecture, layer count, sizes)."""
    defaults = vars(model_args())
    for key, wanted in architecture(spec.table).items():
        value = options.get(key, defaults.get(key))
        if value != wanted:
            raise UserInputError(f"the config has {key} = {value!r} but a {spec.name} model has {wanted!r}: "
                                 f"is this a {spec.name} checkpoint?", path=source)
    if any("{i}" in key for rule in spec.table.rules for key in rule.uer):
        expected = max(options.get("layers_num") or 0, options.get("decoder_layers_num") or 0)
        if expected != layers_num:
            raise UserInputError(f"the config says {expected} layers but the weights hold {layers_num}: "
                                 f"they belong to different models", path=source)
    head = has_head(spec, target, state, layers_num)
    with torch.device("meta"):  # shapes only: nothing is allocated, even for large models
        model = build_uer_model(spec, options, head, state)
    own = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    for key, tensor in state.items():
        if key in own and own[key] != tuple(tensor.shape):
            raise UserInputError(f"tensor {key} has shape {list(tensor.shape)} in the weights but the config "
                                 f"(hidden_size {options.get('hidden_size')}, emb_size {options.get('emb_size')}, "
                                 f"vocab_size {options.get('vocab_size')}) gives {list(own[key])}", path=source)
    missing = [key for key in own if key.startswith(BACKBONE_PREFIXES) and key not in state]
    if missing:
        raise UserInputError(f"the config describes tensors the weights lack ({', '.join(missing[:3])}"
                             f"{' ...' if len(missing) > 3 else ''}): check the architecture", path=source)


def uer_outputs(spec: Spec, target: Optional[str], model: nn.Module, head: bool, src: Tensor, seg: Tensor,
                tgt: Tensor) -> Dict[str, Tensor]:
    """Our outputs under the names of the ``transformers`` outputs they match.

    src, seg: [batch_size x seq_length]; tgt: [batch_size x tgt_length] decoder input (T5).
    """
    if not head:
        return {"last_hidden_state": model.encode({"src": src, "seg": seg})}
    if spec.task == "classification":
        return {"logits": model({"src": src, "seg": seg})["logits"]}
    if spec.task is not None:
        logits = model.output_layer(model.encode({"src": src, "seg": seg}))
        if spec.task == "tagging":
            return {"logits": logits[..., :model.tags_num]}
        return {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}
    memory = model.encode(src, seg)
    if spec.name in ("t5", "t5-v1_1", "mt5"):
        return {"logits": model.target.decode(memory, seg, tgt)[0]}
    if spec.name == "gpt2":
        return {"logits": model.target.output_layer(memory)}
    mlm = model.target.mlm_logits(memory)
    if target == "mlm":
        return {"logits": mlm}
    pair = "seq_relationship_logits" if spec.name == "bert" else "sop_logits"
    return {"prediction_logits": mlm, pair: model.target.pair_logits(memory)}


def weights_layers(spec: Spec, state: Dict[str, Tensor]) -> int:
    return count_layers(list(state), [key for rule in spec.table.rules for key in rule.uer])
