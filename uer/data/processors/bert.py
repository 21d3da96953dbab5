"""BERT pre-training data: masked LM + next sentence prediction (Devlin et al., 2019).

Instance: ``[CLS] A [SEP] B [SEP]``; B is the actual continuation of A (``is_next`` 0) or, half
of the time, sentences of another document of the buffer (``is_next`` 1 = random next).
"""
import logging
from array import array
from typing import List

from uer.data.processors import DATA_PROCESSORS
from uer.data.processors.base import KeyedRandom, randint
from uer.data.processors.documents import DocumentBuffer, DocumentProcessor, flatten, pair_instance, truncate_pair
from uer.data.writer import ShardWriter

logger = logging.getLogger(__name__)


@DATA_PROCESSORS.register("bert")
class BertProcessor(DocumentProcessor):
    name = "bert"

    def document_instances(self, buffer: DocumentBuffer, index: int, rng: KeyedRandom,
                           writer: ShardWriter) -> None:
        sentences = buffer[index][1]
        max_tokens = self.settings.seq_length - 3

        def emit(chunk: List[array], target: int) -> int:
            a_end = randint(rng, 1, len(chunk) - 1) if len(chunk) >= 2 else 1
            a = flatten(chunk[:a_end])
            if len(chunk) == 1 or rng.random() < 0.5:
                is_random, unused = 1, len(chunk) - a_end  # unused sentences start the next chunk
                b = self._random_continuation(buffer, index, target - len(a))
            else:
                is_random, unused = 0, 0
                b = flatten(chunk[a_end:])
            if len(a) + len(b) > max_tokens:
                a, b = truncate_pair(a, b, max_tokens, self._other)
            src, seg_pos = pair_instance(self.cls_id, self.sep_id, a, b)
            writer.add(src=src, seg_pos=seg_pos, is_next=is_random)
            return unused

        self.walk_chunks(sentences, rng, emit)

    def _random_continuation(self, buffer: DocumentBuffer, index: int, target: int) -> List[int]:
        """Sentences of another document, from a random sentence on, about ``target`` tokens long."""
        other = self._other
        if len(buffer) > 1:
            choice = int(other.random() * (len(buffer) - 1))
            choice += choice >= index  # any document but this one
        else:
            choice = index
            if not self._warned_single:
                logger.warning("a document buffer holds a single document: its random-next sentences "
                               "come from the same document (a larger corpus or --docs_buffer_size avoids it)")
                self._warned_single = True
        document = buffer[choice][1]
        tokens: List[int] = []
        for sentence in document[int(other.random() * len(document)):]:
            tokens.extend(sentence)
            if len(tokens) >= target:
                break
        return tokens
