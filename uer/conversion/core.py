"""One template-key table per architecture drives both conversion directions.

A :class:`Rule` ties one Hugging Face key to one or more UER keys (``{i}`` = layer index) with a
:class:`Transform` and its inverse; ``convert`` expands the templates for every layer found in the
weights and returns the new state dict with a :class:`ConversionReport` (mapped, absent, dropped).
"""
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from uer.utils.errors import UserInputError

Tensor = torch.Tensor


@dataclass(frozen=True)
class Transform:
    """``to_uer`` maps the HF tensor to the UER tensors; ``to_hf`` is its inverse."""

    to_uer: Callable[[Tensor], List[Tensor]]
    to_hf: Callable[[List[Tensor]], Tensor]


IDENTITY = Transform(lambda t: [t], lambda ts: ts[0])
# GPT-2's Conv1D stores [in, out]; torch Linear stores [out, in].
TRANSPOSE = Transform(lambda t: [t.t().contiguous()], lambda ts: ts[0].t().contiguous())
# GPT-2's fused c_attn: [H, 3H] weight / [3H] bias holding Q, K and V.
SPLIT3_TRANSPOSE = Transform(lambda t: [c.contiguous() for c in t.t().chunk(3, dim=0)],
                             lambda ts: torch.cat(ts, dim=0).t().contiguous())
SPLIT3 = Transform(lambda t: [c.contiguous() for c in t.chunk(3, dim=0)], lambda ts: torch.cat(ts, dim=0))


def segment_table(hf_rows: int) -> Transform:
    """HF token types [rows x H] <-> UER segments [3 x H] (row 0 = padding, 1 = A, 2 = B).

    With one HF row (RoBERTa) sentence B reuses it, as RoBERTa gives every token type 0.
    """
    def to_uer(t: Tensor) -> List[Tensor]:
        rows = [torch.zeros_like(t[0])] + [t[min(k, t.size(0) - 1)] for k in range(2)]
        return [torch.stack(rows)]

    return Transform(to_uer, lambda ts: ts[0][1:1 + hf_rows].clone())


def pad_rows(extra: int) -> Transform:
    """HF [rows x ...] <-> UER [rows + extra x ...]: UER keeps ``extra`` unused zero rows at the end.

    UER-py's NER head has one more output row than there are tags (its ``[PAD]`` label); the row is
    never predicted, so zeros are as good as any value and dropping it loses nothing.
    """
    return Transform(lambda t: [torch.cat([t, t.new_zeros((extra,) + tuple(t.shape[1:]))], dim=0)],
                     lambda ts: ts[0][:ts[0].size(0) - extra].clone())


def position_offset(offset: int) -> Transform:
    """RoBERTa positions start at padding_idx + 1: HF rows ``offset:`` are UER rows ``0:``."""
    return Transform(lambda t: [t[offset:].clone()],
                     lambda ts: torch.cat([torch.zeros_like(ts[0][:offset]), ts[0]], dim=0))


@dataclass(frozen=True)
class Rule:
    """One HF key <-> UER keys. ``hf=""`` with a ``fallback``: the source format has no tensor of its
    own (Google BERT ties its MLM output to the word embeddings); read from ``fallback``, never written."""

    hf: str
    uer: Tuple[str, ...]
    transform: Transform = IDENTITY
    hf_aliases: Tuple[str, ...] = ()  # other HF names of the same tensor (tied weights)
    fallback: Optional[str] = None  # HF key to read when ``hf`` is absent (tied weight saved once)
    fallback_requires: Optional[str] = None  # ... but only when this HF key shows the head is there
    targets: Optional[Tuple[str, ...]] = None  # only for these --target values (None = always)
    note: Optional[str] = None  # printed with the report when the rule applies (a lossy or padded step)


@dataclass(eq=False)
class Table:
    name: str
    rules: Sequence[Rule]
    base_prefix: str = ""  # e.g. "bert.": the base model's keys inside task models
    head_prefixes: Tuple[str, ...] = ()  # HF keys that are heads, never under base_prefix
    ignore: Tuple[str, ...] = ()  # regexes of HF buffers that are not weights


@dataclass
class ConversionReport:
    mapped: List[Tuple[str, Tuple[int, ...], Tuple[str, ...]]] = field(default_factory=list)
    absent: List[str] = field(default_factory=list)
    dropped: List[str] = field(default_factory=list)
    layers_num: int = 0
    notes: List[str] = field(default_factory=list)  # what the reader should know (lossy steps)

    def format(self, source: str = "source", destination: str = "destination") -> str:
        lines = [f"{len(self.mapped)} {source} tensors mapped to {destination} ({self.layers_num} layers)"]
        for key, shape, targets in self.mapped:
            lines.append(f"  {key} {list(shape)} -> {', '.join(targets)}")
        lines.append(f"absent from the {source} ({len(self.absent)}): " + (", ".join(self.absent) or "none"))
        lines.append(f"dropped from the {source} ({len(self.dropped)}): " + (", ".join(self.dropped) or "none"))
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


def _layer_regex(template: str) -> re.Pattern:
    return re.compile("^" + re.escape(template).replace(re.escape("{i}"), r"(\d+)") + "$")


def count_layers(keys: Sequence[str], templates: Sequence[str]) -> int:
    """The number of layers present: 1 + the largest index matching any ``{i}`` template."""
    largest = -1
    for template in templates:
        if "{i}" not in template:
            continue
        pattern = _layer_regex(template)
        for key in keys:
            match = pattern.match(key)
            if match:
                largest = max(largest, int(match.group(1)))
    return largest + 1


def _expand(rule: Rule, layers_num: int) -> List[Rule]:
    if "{i}" not in rule.hf and not any("{i}" in key for key in rule.uer):
        return [rule]
    return [Rule(rule.hf.format(i=i), tuple(key.format(i=i) for key in rule.uer), rule.transform,
                 tuple(alias.format(i=i) for alias in rule.hf_aliases),
                 rule.fallback.format(i=i) if rule.fallback else None, rule.fallback_requires, rule.targets, rule.note)
            for i in range(layers_num)]


def normalize_hf_keys(state: Dict[str, Tensor], table: Table) -> Dict[str, Tensor]:
    """Drop the base-model prefix (``bert.``...) so bare models and task models read the same."""
    if not table.base_prefix:
        return dict(state)
    return {key[len(table.base_prefix):] if key.startswith(table.base_prefix) else key: value
            for key, value in state.items()}


def add_hf_prefix(state: Dict[str, Tensor], table: Table) -> Dict[str, Tensor]:
    return {key if key.startswith(table.head_prefixes) or not table.base_prefix else table.base_prefix + key: value
            for key, value in state.items()}


def active_rules(table: Table, target: Optional[str], layers_num: int) -> List[Rule]:
    """The table's rules for ``target``, with ``{i}`` expanded for ``layers_num`` layers."""
    rules = [rule for rule in table.rules if rule.targets is None or target in rule.targets]
    return [expanded for rule in rules for expanded in _expand(rule, layers_num)]



def hf_to_uer(state: Dict[str, Tensor], table: Table, target: Optional[str] = None,
              layers_num: Optional[int] = None) -> Tuple[Dict[str, Tensor], ConversionReport]:
    state = normalize_hf_keys(state, table)
    layers_num = _check_layers(layers_num, count_layers(list(state), [rule.hf for rule in table.rules]), table)
    report = ConversionReport(layers_num=layers_num)
    out: Dict[str, Tensor] = {}
    consumed = set()
    for rule in active_rules(table, target, layers_num):
        head_present = rule.fallback_requires is None or rule.fallback_requires in state
        key = rule.hf if rule.hf in state else rule.fallback if head_present and rule.fallback in state else None
        if key is None:
            if rule.hf:  # a tied-only rule is not a tensor the source could have had
                report.absent.append(rule.hf)
            continue
        consumed.update((rule.hf, *rule.hf_aliases))
        consumed.add(key)
        for name, tensor in zip(rule.uer, rule.transform.to_uer(state[key])):
            out[name] = tensor
        report.mapped.append((key, tuple(state[key].shape), rule.uer))
        if rule.note and rule.note not in report.notes:
            report.notes.append(rule.note)
    ignore = [re.compile(pattern) for pattern in table.ignore]
    report.dropped = [key for key in state if key not in consumed and not any(p.search(key) for p in ignore)]
    return out, report


def uer_to_hf(state: Dict[str, Tensor], table: Table, target: Optional[str] = None,
              layers_num: Optional[int] = None, with_prefix: bool = True) -> Tuple[Dict[str, Tensor], ConversionReport]:
    layers_num = _check_layers(layers_num, count_layers(list(state), [key for rule in table.rules for key in rule.uer]),
                               table)
    report = ConversionReport(layers_num=layers_num)
    out: Dict[str, Tensor] = {}
    consumed = set()
    tied_only = []
    for rule in active_rules(table, target, layers_num):
        if not rule.hf:
            tied_only.append(rule)
            continue
        present = [key in state for key in rule.uer]
        if not any(present):
            report.absent.append(", ".join(rule.uer))
            continue
        if not all(present):
            missing = [key for key, ok in zip(rule.uer, present) if not ok]
            raise UserInputError(f"incomplete {table.name} checkpoint: {', '.join(missing)} missing "
                                 f"while {rule.uer[present.index(True)]} is present")
        tensor = rule.transform.to_hf([state[key] for key in rule.uer])
        for name in (rule.hf, *rule.hf_aliases):
            out[name] = tensor
        consumed.update(rule.uer)
        report.mapped.append((", ".join(rule.uer), tuple(tensor.shape), (rule.hf, *rule.hf_aliases)))
        if rule.note and rule.note not in report.notes:
            report.notes.append(rule.note)
    for rule in tied_only:
        key = rule.uer[0]
        if key not in state or rule.fallback not in out:
            continue
        if torch.equal(rule.transform.to_hf([state[key]]), out[rule.fallback]):
            consumed.add(key)
        else:
            report.notes.append(f"{key} differs from what {rule.fallback} holds, but {table.name} ties the two: "
                                f"the destination keeps {rule.fallback} only")
    report.dropped = [key for key in state if key not in consumed]
    return (add_hf_prefix(out, table) if with_prefix else out), report


def _check_layers(requested: Optional[int], found: int, table: Table) -> int:
    name = table.name
    if not any("{i}" in rule.hf for rule in table.rules):
        return requested or 0  # one shared layer (ALBERT): the count is not in the weights
    if requested is None:
        if found <= 0:
            raise UserInputError(f"no {name} transformer layers found in the weights: is this a {name} checkpoint?")
        return found
    if found > 0 and requested != found:
        raise UserInputError(f"--layers_num {requested} does not match the {found} layers in the {name} weights")
    return requested
