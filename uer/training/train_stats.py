"""Training statistics between two report lines, kept on the device until the report.

A target returns ``loss`` and, per part, ``loss_<part>``, ``correct_<part>``, ``denominator_<part>``.
The window sums them (and the real tokens, ``seg > 0``) as tensors, so the hot loop never waits for
the device; ``reduce`` makes one host sync and one all-reduce per report. The report line keeps the
original's shape (``| step/total steps| tokens/s| loss| acc``) and adds the learning rate and ETA.
"""
from typing import Any, Dict, List, Optional

import torch

from uer.training.runtime import DistContext, all_reduce_sum

STAT_PREFIXES = ("loss_", "correct_", "denominator_")


def is_stat_key(key: str) -> bool:
    return key == "loss" or key.startswith(STAT_PREFIXES)


def clock(seconds: float) -> str:
    seconds = int(max(0.0, seconds)) if seconds == seconds and seconds != float("inf") else 0
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class StatsWindow:
    """Sums of the target statistics over the micro-steps since the last report."""

    def __init__(self, device: torch.device):
        self.device = device
        self.reset()

    def reset(self) -> None:
        self.sums: Dict[str, torch.Tensor] = {}
        self.steps = 0

    def _add(self, key: str, value: torch.Tensor) -> None:
        if key in self.sums:
            self.sums[key] += value
        else:
            self.sums[key] = value.clone()

    def add(self, out: Dict[str, Any], seg: torch.Tensor) -> None:
        """Accumulate one micro-step: ``out`` is the target's dict, ``seg`` [batch_size x seq_length]."""
        for key, value in out.items():
            if not is_stat_key(key):
                continue
            value = value.detach() if torch.is_tensor(value) else torch.tensor(value, device=self.device)
            if key.startswith("loss"):
                value = value.float()
                finite = torch.isfinite(value)
                # A NaN would poison the window's mean: count it and average the finite ones.
                self._add("nonfinite:" + key, (~finite).to(torch.float64))
                value = torch.where(finite, value, torch.zeros_like(value))
            self._add(key, value.to(torch.float64))
        self._add("tokens", (seg > 0).sum().to(torch.float64))
        self.steps += 1

    def reduce(self, ctx: DistContext) -> Dict[str, Any]:
        """Sum over ranks and summarise: ``loss``, ``parts`` ({part: (loss, acc)}), ``tokens`` (all
        ranks), ``steps`` (this rank), ``nonfinite``. Empty when nothing was added."""
        keys = list(self.sums)
        if not keys:
            return {}
        counts = torch.tensor([float(self.steps)], dtype=torch.float64, device=self.device)
        vector = all_reduce_sum(torch.cat([torch.stack([self.sums[k] for k in keys]), counts]), ctx)
        values = dict(zip(keys + ["steps"], vector.tolist()))

        def mean(key: str) -> float:
            finite_steps = values["steps"] - values["nonfinite:" + key]
            return values[key] / finite_steps if finite_steps else float("nan")

        parts: Dict[str, tuple] = {}
        for key in keys:
            if key.startswith("loss_"):
                part = key[len("loss_"):]
                denominator = values.get(f"denominator_{part}", 0.0)
                acc = values.get(f"correct_{part}", 0.0) / denominator if denominator else float("nan")
                parts[part] = (mean(key), acc)
        return {"loss": mean("loss"), "parts": parts, "tokens": values["tokens"], "steps": self.steps,
                "nonfinite": int(values["nonfinite:loss"])}


def peak_device_memory(device: torch.device) -> Optional[int]:
    """Bytes held by tensors at the peak so far on a CUDA ``device`` (``max_memory_allocated``);
    None on CPU, where the process's peak resident memory is the figure to read."""
    return torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None


def memory_field(peak_bytes: Optional[int]) -> str:
    """``peak mem X.XX GiB`` for a report line, or nothing."""
    return "" if peak_bytes is None else f"peak mem {peak_bytes / 2 ** 30:.2f} GiB"


def format_report(step: int, total_steps: int, stats: Dict[str, Any], elapsed: float, lr: float, eta: float,
                  skipped: int = 0, scale: Optional[float] = None, peak_memory: Optional[int] = None) -> str:
    """``| step/total steps| N real tokens/s| loss X| acc: Y| lr Z| eta h:mm:ss``; targets with several
    parts (bert: mlm + sp) list ``loss_<part>`` then ``acc_<part>`` after the total loss; on CUDA
    ``peak mem X GiB`` (``peak_memory`` in bytes) follows."""
    fields: List[str] = [f"{step:>7d}/{total_steps:>7d} steps",
                         f"{stats['tokens'] / elapsed:>9.0f} real tokens/s",
                         f"loss {stats['loss']:>7.3f}"]
    parts = stats["parts"]
    if len(parts) == 1:
        (_, acc), = parts.values()
        fields.append(f"acc: {acc:.3f}")
    else:
        fields += [f"loss_{part}: {loss:.3f}" for part, (loss, _) in parts.items()]
        fields += [f"acc_{part}: {acc:.3f}" for part, (_, acc) in parts.items()]
    fields += [f"lr {lr:.3e}", f"eta {clock(eta)}"]
    if peak_memory is not None:
        fields.append(memory_field(peak_memory))
    if stats.get("nonfinite"):
        fields.append(f"non-finite losses: {stats['nonfinite']}")
    if skipped:
        fields.append(f"skipped updates: {skipped}" + (f" (loss scale {scale:g})" if scale is not None else ""))
    return "| " + "| ".join(fields)
