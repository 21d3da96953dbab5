"""Sequence-to-sequence data: ``source<TAB>target`` lines (e.g. translation).

Source ``[CLS] s [SEP]`` (at most ``--seq_length`` tokens), target ``[CLS] t [SEP]`` (at most
``--tgt_seq_length + 1`` tokens, with the target vocabulary when ``--tgt_vocab_path`` is given);
the batch uses ``tgt_in = tgt[:-1]`` and ``tgt_out = tgt[1:]``.
"""
from typing import Any, Dict, Iterator, List, Sequence

import numpy as np

from uer.data.corpus import Line
from uer.data.format import DatasetFile, token_dtype, vocab_fingerprint
from uer.data.masking import Masker
from uer.data.processors import DATA_PROCESSORS
from uer.data.processors.base import Batch
from uer.data.processors.batching import gather, ragged_rows, segments
from uer.data.processors.columns import ColumnsProcessor
from uer.data.writer import Field, ShardWriter
from uer.utils.constants import CLS_TOKEN, SEP_TOKEN


@DATA_PROCESSORS.register("seq2seq")
class Seq2seqProcessor(ColumnsProcessor):
    name = "seq2seq"
    columns = (2,)
    layout = "source<TAB>target"

    def fields(self) -> List[Field]:
        return super().fields() + [Field("tgt", "ragged", token_dtype(len(self.tgt_tokenizer.vocab)))]

    def header(self) -> Dict[str, Any]:
        return {"tgt_vocab": vocab_fingerprint(self.tgt_tokenizer.vocab)}

    def process(self, lines: Iterator[Line], writer: ShardWriter, shard_index: int) -> Dict[str, int]:
        stats = {"truncated_sources": 0, "truncated_targets": 0}
        seq_length, tgt_length = self.settings.seq_length, self.settings.tgt_seq_length
        tgt_vocab = self.tgt_tokenizer.vocab
        tgt_cls, tgt_sep = tgt_vocab.get(CLS_TOKEN), tgt_vocab.get(SEP_TOKEN)
        for _, (source, target) in self.rows(lines, stats):
            s = self.tokenizer.encode(source)
            t = self.tgt_tokenizer.encode(target)
            if len(s) > seq_length - 2:
                stats["truncated_sources"] += 1
                s = s[:seq_length - 2]
            if len(t) > tgt_length - 1:
                stats["truncated_targets"] += 1
                t = t[:tgt_length - 1]
            writer.add(src=[self.cls_id] + s + [self.sep_id], tgt=[tgt_cls] + t + [tgt_sep])
        return stats

    @classmethod
    def collate(cls, data: DatasetFile, indices: Sequence[int], masker: Masker, rng: np.random.Generator) -> Batch:
        src, lengths = gather(ragged_rows(data, "src", indices))
        tgt_rows = ragged_rows(data, "tgt", indices)
        tgt_in, tgt_lengths = gather([row[:-1] for row in tgt_rows])
        tgt_out, _ = gather([row[1:] for row in tgt_rows])
        return {"src": src, "seg": segments(src.shape[1], lengths), "tgt_in": tgt_in, "tgt_out": tgt_out,
                "tgt_seg": segments(tgt_in.shape[1], tgt_lengths)}
