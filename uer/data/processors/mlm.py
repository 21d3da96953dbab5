"""Masked LM data (RoBERTa-style: no sentence pairs).

Default: each line is a document, ``[CLS] tokens [SEP]`` cut into ``--seq_length`` pieces.
``--full_sentences``: the lines of each ``--docs_buffer_size``-line block are concatenated
(each wrapped in ``[CLS] … [SEP]``) and cut into full-length pieces. Blank lines, and a final
piece holding only special tokens, yield nothing (they would be instances with nothing to
predict); both are counted in the log.
"""
import logging
from array import array
from typing import Dict, Iterator, List, Sequence, Tuple

import numpy as np

from uer.data.corpus import Line
from uer.data.format import DatasetFile
from uer.data.masking import Masker
from uer.data.processors import DATA_PROCESSORS
from uer.data.processors.base import Batch, DataProcessor
from uer.data.processors.batching import mlm_batch, segments
from uer.data.writer import ShardWriter

logger = logging.getLogger(__name__)


@DATA_PROCESSORS.register("mlm")
class MlmProcessor(DataProcessor):
    name = "mlm"
    masked = True
    uses_dup_factor = True  # each pass draws new static masks
    buffered = True

    def shard_boundary(self) -> Tuple[str, int]:
        # Full-sentence blocks are counted from the corpus start, so workers cut between blocks
        # and every block is concatenated exactly as a single process would.
        return "line", (self.settings.docs_buffer_size if self.settings.full_sentences else 0)

    def process(self, lines: Iterator[Line], writer: ShardWriter, shard_index: int) -> Dict[str, int]:
        typecode = "H" if self.vocab_size * (2 if self.word_flags else 1) <= 1 << 16 else "i"
        seq_length = self.settings.seq_length
        buffer_size = self.settings.docs_buffer_size
        stats = {"documents": 0, "empty_lines": 0, "special_only_pieces": 0}
        pieces: List[array] = []
        stream: List[int] = []  # --full_sentences: the concatenation not yet cut
        lines_in_buffer = 0
        for line_no, text in lines:
            ids = self.encode(text)
            if not ids:
                stats["empty_lines"] += 1
            else:
                stats["documents"] += 1
                document = [self.cls_id] + ids + [self.sep_id]
                if self.settings.full_sentences:
                    stream.extend(document)
                    while len(stream) >= seq_length:
                        pieces.append(array(typecode, stream[:seq_length]))
                        del stream[:seq_length]
                else:
                    self._cut(document, pieces, typecode, stats)
            lines_in_buffer += 1
            if self.settings.full_sentences:
                end_of_block = line_no % buffer_size == 0
            else:
                end_of_block = lines_in_buffer >= buffer_size
            if end_of_block:
                self._cut(stream, pieces, typecode, stats)
                stream = []
                self._write(pieces, writer)
                pieces, lines_in_buffer = [], 0
        self._cut(stream, pieces, typecode, stats)
        self._write(pieces, writer)
        return stats

    def _cut(self, tokens: List[int], pieces: List[array], typecode: str, stats: Dict[str, int]) -> None:
        specials = (self.cls_id, self.sep_id)
        for start in range(0, len(tokens), self.settings.seq_length):
            piece = tokens[start:start + self.settings.seq_length]
            # Only a piece of at most 2 tokens can lack text (documents are never empty).
            if len(piece) <= 2 and all(token in specials for token in piece):
                stats["special_only_pieces"] += 1
            else:
                pieces.append(array(typecode, piece))

    def _write(self, pieces: List[array], writer: ShardWriter) -> None:
        for dup in range(self.dup_factor):
            for piece in pieces:
                writer.add(src=piece)
            self.buffer_progress(dup + 1, self.dup_factor)

    @classmethod
    def collate(cls, data: DatasetFile, indices: Sequence[int], masker: Masker, rng: np.random.Generator) -> Batch:
        src, tgt_mlm, lengths = mlm_batch(data, indices, masker, rng)
        return {"src": src, "seg": segments(src.shape[1], lengths), "tgt_mlm": tgt_mlm}
