"""The parity check: the same input through the ``transformers`` model and ours, max abs difference."""
import contextlib
import logging
from typing import Dict, Iterator, Optional

import torch

from uer.conversion.specs import Spec, has_head
from uer.conversion.uer_side import build_uer_model, uer_outputs, weights_layers
from uer.model_loader import load_state_dict_into
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)
Tensor = torch.Tensor


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """transformers' loading bars and tie warnings would bury the report; silence them meanwhile."""
    import transformers

    verbosity = transformers.logging.get_verbosity()
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars:
            transformers.utils.logging.enable_progress_bar()


def build_hf_model(class_name: str, hf_cfg: Dict, hf_state: Dict[str, Tensor], warn_missing: bool = True):
    """A ``transformers`` model from a config dict and a state dict, tied as ``from_pretrained`` ties."""
    import transformers

    fields = {key: value for key, value in hf_cfg.items() if key != "model_type"}
    config = transformers.AutoConfig.for_model(hf_cfg["model_type"], **fields)
    with _quiet_transformers():
        model, info = getattr(transformers, class_name).from_pretrained(
            None, config=config, state_dict=dict(hf_state), output_loading_info=True)
    if warn_missing and info.get("missing_keys"):
        logger.warning("%s: not in the converted weights (left at random): %s", class_name,
                       ", ".join(sorted(info["missing_keys"])))
    return model.eval()


def sample_inputs(vocab_size: int, batch: int = 3, length: int = 12):
    """Random ids in [5, vocab) with two segments and one padded row (seg 0 = padding)."""
    generator = torch.Generator().manual_seed(0)
    src = torch.randint(min(5, vocab_size - 1), vocab_size, (batch, length), generator=generator)
    seg = torch.ones(batch, length, dtype=torch.long)
    seg[:, length // 2:] = 2
    seg[1, length - 3:] = 0
    src[seg == 0] = 0
    tgt = torch.randint(min(5, vocab_size - 1), vocab_size, (batch, length // 2), generator=generator)
    return src, seg, tgt


def _hf_outputs(spec: Spec, model, head: bool, src: Tensor, seg: Tensor, tgt: Tensor) -> object:
    kwargs = {"input_ids": src, "attention_mask": (seg > 0).long()}
    if spec.model_type in ("bert", "albert"):
        kwargs["token_type_ids"] = (seg == 2).long()
    if spec.model_type in ("t5", "mt5") and head:
        kwargs["decoder_input_ids"] = tgt
    return model(**kwargs)


def parity(spec: Spec, target: Optional[str], hf_state: Dict[str, Tensor], hf_cfg: Dict,
           uer_state: Dict[str, Tensor], options: Dict) -> Dict[str, float]:
    """Max abs difference per compared output (real tokens only: padding is undefined in both).

    With the head present the head's outputs are compared (logits), else the last hidden states.
    """
    head = has_head(spec, target, uer_state, weights_layers(spec, uer_state))
    hf_class = (spec.heads.get(target or "") or next(iter(spec.heads.values()))).hf_class if head else spec.base_class
    hf_model = build_hf_model(hf_class, hf_cfg, hf_state, warn_missing=head)  # a bare model's pooler is unused
    ours = build_uer_model(spec, options, head, uer_state).eval()
    loaded = load_state_dict_into(ours, uer_state, source="converted weights")
    if loaded.missing:
        raise UserInputError(f"the converted weights lack {', '.join(loaded.missing[:4])}: cannot compare outputs")
    src, seg, tgt = sample_inputs(options["vocab_size"])
    with torch.no_grad():
        expected = _hf_outputs(spec, hf_model, head, src, seg, tgt)
        got = uer_outputs(spec, target, ours, head, src, seg, tgt)
    real = seg > 0
    diffs = {}
    for name, value in got.items():
        reference = getattr(expected, name)
        if value.shape != reference.shape:
            raise UserInputError(f"output {name}: ours {list(value.shape)} vs transformers {list(reference.shape)}")
        difference = (value.float() - reference.float()).abs()
        if value.dim() >= 2 and value.shape[:2] == real.shape:  # per-token outputs: skip padding
            difference = difference[real]
        diffs[name] = difference.max().item()
    return diffs


def format_parity(spec: Spec, diffs: Dict[str, float]) -> str:
    parts = ", ".join(f"{name} {value:.3e}" for name, value in diffs.items())
    return f"parity check ({spec.name}, same random input through transformers and UER): max abs difference {parts}"
