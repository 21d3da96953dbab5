"""Causal LM data (GPT): each line is a document ``[CLS] tokens [SEP]``.

A document is cut into windows of ``seq_length + 1`` tokens that overlap by one token
(stride ``seq_length``), so every next-token transition of the document is trained exactly
once; the batch uses ``src = window[:-1]`` and ``tgt = window[1:]``.
"""
from typing import Dict, Iterator, Sequence

import numpy as np

from uer.data.corpus import Line
from uer.data.format import DatasetFile
from uer.data.masking import Masker
from uer.data.processors import DATA_PROCESSORS
from uer.data.processors.base import Batch, DataProcessor
from uer.data.processors.batching import gather, ragged_rows, segments
from uer.data.writer import ShardWriter


@DATA_PROCESSORS.register("lm")
class LmProcessor(DataProcessor):
    name = "lm"
    min_seq_length = 1
    # Tokens of context kept before each window (bilm needs the previous token of its first position).
    context_before = 0

    def process(self, lines: Iterator[Line], writer: ShardWriter, shard_index: int) -> Dict[str, int]:
        stats = {"documents": 0, "empty_lines": 0}
        seq_length = self.settings.seq_length
        for _, text in lines:
            ids = self.encode(text)
            if not ids:
                stats["empty_lines"] += 1
                continue
            stats["documents"] += 1
            document = [self.cls_id] + ids + [self.sep_id]
            for start in range(self.context_before, len(document) - 1, seq_length):
                writer.add(src=document[start - self.context_before:start + seq_length + 1])
        return stats

    @classmethod
    def collate(cls, data: DatasetFile, indices: Sequence[int], masker: Masker, rng: np.random.Generator) -> Batch:
        rows = ragged_rows(data, "src", indices)
        src, lengths = gather([row[:-1] for row in rows])
        tgt, _ = gather([row[1:] for row in rows])
        return {"src": src, "seg": segments(src.shape[1], lengths), "tgt": tgt}
