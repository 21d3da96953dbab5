"""ALBERT pre-training data: masked LM + sentence order prediction (Lan et al., 2020).

Instance: ``[CLS] A [SEP] B [SEP]`` with A, B consecutive parts of one document, swapped half
of the time (``is_next`` 1 = wrong order). A one-sentence chunk is split inside the sentence,
so B is never empty unless the chunk is a single token.
"""
from array import array
from typing import List

from uer.data.processors import DATA_PROCESSORS
from uer.data.processors.base import KeyedRandom, randint
from uer.data.processors.documents import DocumentBuffer, DocumentProcessor, flatten, pair_instance, truncate_pair
from uer.data.writer import ShardWriter


@DATA_PROCESSORS.register("albert")
class AlbertProcessor(DocumentProcessor):
    name = "albert"

    def document_instances(self, buffer: DocumentBuffer, index: int, rng: KeyedRandom,
                           writer: ShardWriter) -> None:
        max_tokens = self.settings.seq_length - 3

        def emit(chunk: List[array], target: int) -> int:
            if len(chunk) >= 2:
                a_end = randint(rng, 1, len(chunk) - 1)
                a, b = flatten(chunk[:a_end]), flatten(chunk[a_end:])
            else:
                tokens = list(chunk[0])
                cut = randint(rng, 1, len(tokens) - 1) if len(tokens) >= 2 else len(tokens)
                a, b = tokens[:cut], tokens[cut:]
            wrong_order = 1 if b and rng.random() < 0.5 else 0
            if wrong_order:
                a, b = b, a
            if len(a) + len(b) > max_tokens:
                a, b = truncate_pair(a, b, max_tokens, self._other)
            src, seg_pos = pair_instance(self.cls_id, self.sep_id, a, b)
            writer.add(src=src, seg_pos=seg_pos, is_next=wrong_order)
            return 0

        self.walk_chunks(buffer[index][1], rng, emit)
