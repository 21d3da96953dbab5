"""Bidirectional LM data (ELMo-style): each line is a document.

The document's tokens are cut into ``seq_length`` pieces; each piece is stored with one token
of context on both sides (the previous/next token of the document, ``[CLS]``/``[SEP]`` at its
ends), from which the batch derives ``tgt_forward`` (next token) and ``tgt_backward``
(previous token) of every position.
"""
from typing import Sequence

import numpy as np

from uer.data.format import DatasetFile
from uer.data.masking import Masker
from uer.data.processors import DATA_PROCESSORS
from uer.data.processors.base import Batch
from uer.data.processors.batching import gather, ragged_rows, segments
from uer.data.processors.lm import LmProcessor


@DATA_PROCESSORS.register("bilm")
class BilmProcessor(LmProcessor):
    """The LM windows with one more token of context in front."""

    name = "bilm"
    context_before = 1

    @classmethod
    def collate(cls, data: DatasetFile, indices: Sequence[int], masker: Masker, rng: np.random.Generator) -> Batch:
        rows = ragged_rows(data, "src", indices)
        src, lengths = gather([row[1:-1] for row in rows])
        forward, _ = gather([row[2:] for row in rows])
        backward, _ = gather([row[:-2] for row in rows])
        return {"src": src, "seg": segments(src.shape[1], lengths), "tgt_forward": forward,
                "tgt_backward": backward}
