"""T5-style data as in UER-py: MLM-masked input, the decoder generates the masked tokens.

Instances are built exactly like ``mlm`` (BERT masking, no sentinel tokens). The decoder
sequence is made per batch: ``tgt_in = [CLS] m1 … mk`` and ``tgt_out = m1 … mk [SEP]``, the
masked originals in position order, padded to the batch's longest (no fixed length).
"""
from typing import Sequence

import numpy as np

from uer.data.format import DatasetFile
from uer.data.masking import Masker
from uer.data.processors import DATA_PROCESSORS
from uer.data.processors.base import Batch
from uer.data.processors.batching import gather, mlm_batch, segments
from uer.data.processors.mlm import MlmProcessor


@DATA_PROCESSORS.register("t5")
class T5Processor(MlmProcessor):
    name = "t5"

    @classmethod
    def collate(cls, data: DatasetFile, indices: Sequence[int], masker: Masker, rng: np.random.Generator) -> Batch:
        src, tgt_mlm, lengths = mlm_batch(data, indices, masker, rng)
        special = data.header["special_ids"]
        inputs, outputs = [], []
        for row in tgt_mlm:
            originals = row[row > 0]
            inputs.append(np.concatenate([[special["cls"]], originals]))
            outputs.append(np.concatenate([originals, [special["sep"]]]))
        tgt_in, tgt_lengths = gather(inputs)
        tgt_out, _ = gather(outputs)
        return {"src": src, "seg": segments(src.shape[1], lengths), "tgt_in": tgt_in, "tgt_out": tgt_out,
                "tgt_seg": segments(tgt_in.shape[1], tgt_lengths)}
