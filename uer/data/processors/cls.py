"""Classification pre-training data: ``label<TAB>text`` or ``label<TAB>text_a<TAB>text_b`` lines.

Instance: ``[CLS] text [SEP]`` or ``[CLS] a [SEP] b [SEP]`` (segments 1/2) and its own label;
labels are non-negative integers (the header records ``labels_num`` = largest + 1).
"""
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np

from uer.data.corpus import Line
from uer.data.format import DatasetFile, position_dtype
from uer.data.masking import Masker
from uer.data.processors import DATA_PROCESSORS
from uer.data.processors.base import Batch
from uer.data.processors.batching import gather, ragged_rows, segments
from uer.data.processors.columns import ColumnsProcessor, truncate_tail
from uer.data.writer import Field, ShardWriter


@DATA_PROCESSORS.register("cls")
class ClsProcessor(ColumnsProcessor):
    name = "cls"
    columns = (2, 3)
    layout = "label<TAB>text or label<TAB>text_a<TAB>text_b"
    header_word = "label"
    min_seq_length = 3

    def fields(self) -> List[Field]:
        return super().fields() + [Field("seg_pos", "fixed", position_dtype(self.settings.seq_length), 2),
                                   Field("label", "fixed", np.dtype("<i4"))]

    def split(self, line_no: int, text: str) -> Optional[List[str]]:
        columns = super().split(line_no, text)
        if columns is not None:
            label = columns[0].strip()
            if not label.isdigit() or not label.isascii():
                raise self.error(f"the label {columns[0]!r} is not a non-negative integer (--target cls "
                                 f"expects '{self.layout}' lines, without a header)", line_no)
        return columns

    def process(self, lines: Iterator[Line], writer: ShardWriter, shard_index: int) -> Dict[str, int]:
        stats = {"pairs": 0, "truncated": 0}
        seq_length = self.settings.seq_length
        for _, columns in self.rows(lines, stats):
            a = self.encode(columns[1])
            if len(columns) == 3:
                stats["pairs"] += 1
                b = self.encode(columns[2])
                if len(a) + len(b) > seq_length - 3:
                    stats["truncated"] += 1
                    a, b = truncate_tail(a, b, seq_length - 3)
                src = [self.cls_id] + a + [self.sep_id] + b + [self.sep_id]
                seg_pos = (len(a) + 2, len(src))
            else:
                if len(a) > seq_length - 2:
                    stats["truncated"] += 1
                    a = a[:seq_length - 2]
                src = [self.cls_id] + a + [self.sep_id]
                seg_pos = (len(src), len(src))
            writer.add(src=src, seg_pos=seg_pos, label=int(columns[0]))
        return stats

    @classmethod
    def collate(cls, data: DatasetFile, indices: Sequence[int], masker: Masker, rng: np.random.Generator) -> Batch:
        src, _ = gather(ragged_rows(data, "src", indices))
        seg_pos = np.asarray(data.array("seg_pos")[np.asarray(indices)], dtype=np.int64)
        label = np.asarray(data.array("label")[np.asarray(indices)], dtype=np.int64)
        return {"src": src, "seg": segments(src.shape[1], seg_pos[:, 0], seg_pos[:, 1]), "tgt": label}
