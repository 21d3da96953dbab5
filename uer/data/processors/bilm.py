"""Bidirectional LM data (ELMo-style): each line is a document.

The document's tokens are cut into ``seq_length`` pieces; each piece is stored with one token
of context on both sides (the previous/next token of the document, ``[CLS]``/``[SEP]`` at its
ends), from which the batch derives ``tgt_forward`` (next token) and ``tgt_backward``
(previous token) of every position.
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


@DATA_PROCESSORS.register("bilm")
class BilmProcessor(DataProcessor):
    name = "bilm"
    min_seq_length = 1

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
            for start in range(1, len(ids) + 1, seq_length):
                writer.add(src=document[start - 1:start + seq_length + 1])
        return stats

    @classmethod
    def collate(cls, data: DatasetFile, indices: Sequence[int], masker: Masker, rng: np.random.Generator) -> Batch:
        rows = ragged_rows(data, "src", indices)
        src, lengths = gather([row[1:-1] for row in rows])
        forward, _ = gather([row[2:] for row in rows])
        backward, _ = gather([row[:-2] for row in rows])
        return {"src": src, "seg": segments(src.shape[1], lengths), "tgt_forward": forward,
                "tgt_backward": backward}
