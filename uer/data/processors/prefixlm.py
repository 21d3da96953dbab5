"""Prefix LM data: ``prefix<TAB>target`` lines, for ``--mask causal_with_prefix``.

Instance ``[CLS] prefix [SEP] target [SEP]`` (segment 1 = prefix, 2 = target; the longer part is
cut at its end to fit). Labels are the next tokens from the prefix's ``[SEP]`` on, so the first
target token is trained too (the original labelled it 0).
"""
from typing import Dict, Iterator, List, Sequence

import numpy as np

from uer.data.corpus import Line
from uer.data.format import DatasetFile, position_dtype
from uer.data.masking import Masker
from uer.data.processors import DATA_PROCESSORS
from uer.data.processors.base import Batch
from uer.data.processors.batching import gather, ragged_rows, segments
from uer.data.processors.columns import ColumnsProcessor, truncate_tail
from uer.data.writer import Field, ShardWriter


@DATA_PROCESSORS.register("prefixlm")
class PrefixlmProcessor(ColumnsProcessor):
    name = "prefixlm"
    columns = (2,)
    layout = "prefix<TAB>target"
    min_seq_length = 4

    def fields(self) -> List[Field]:
        return super().fields() + [Field("seg_pos", "fixed", position_dtype(self.settings.seq_length), 2)]

    def process(self, lines: Iterator[Line], writer: ShardWriter, shard_index: int) -> Dict[str, int]:
        stats = {"truncated": 0}
        budget = self.settings.seq_length - 3
        for _, (prefix, target) in self.rows(lines, stats):
            p, t = self.encode(prefix), self.encode(target)
            if len(p) + len(t) > budget:
                stats["truncated"] += 1
                p, t = truncate_tail(p, t, budget)
            src = [self.cls_id] + p + [self.sep_id] + t + [self.sep_id]
            writer.add(src=src, seg_pos=(len(p) + 2, len(src)))
        return stats

    @classmethod
    def collate(cls, data: DatasetFile, indices: Sequence[int], masker: Masker, rng: np.random.Generator) -> Batch:
        src, lengths = gather(ragged_rows(data, "src", indices))
        seg_pos = np.asarray(data.array("seg_pos")[np.asarray(indices)], dtype=np.int64)
        following = np.zeros_like(src)
        following[:, :-1] = src[:, 1:]
        cols = np.arange(src.shape[1])[None, :]
        # Position j predicts token j + 1 from the prefix's [SEP] (index prefix_end - 1) to the end.
        trained = (cols >= seg_pos[:, :1] - 1) & (cols < seg_pos[:, 1:] - 1)
        return {"src": src, "seg": segments(src.shape[1], seg_pos[:, 0], seg_pos[:, 1]),
                "tgt": np.where(trained, following, 0)}
