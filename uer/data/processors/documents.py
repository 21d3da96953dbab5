"""Sentence-pair targets over multi-sentence documents (bert NSP, albert SOP): shared machinery.

Corpus: one sentence per line, documents separated by blank lines. Documents are buffered
(``--docs_buffer_size``) and the buffer is turned into instances ``--dup_factor`` times.

Reproducibility across ``--processes_num``: every choice that decides *how many* instances a
document yields (target length, split point, random-or-actual next) comes from a random stream
seeded by ``(--seed, pass, first line of the document)``, so 1 or N workers give the same count.
Choices that only change an instance's content (which other document supplies a random B,
truncation sides) use the worker's own stream.
"""
import logging
import random
from array import array
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple

import numpy as np

from uer.data.corpus import Line, has_blank_line, iter_documents
from uer.data.format import DatasetFile, position_dtype
from uer.data.masking import Masker
from uer.data.processors.base import (Batch, DataProcessor, KeyedRandom, keyed_uniforms, pair_lengths, randint,
                                      rng_key)
from uer.data.processors.batching import mlm_batch, segments
from uer.data.writer import Field, ShardWriter
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)

Document = List[array]  # the token ids of each sentence


class DocumentBuffer:
    """The documents of one buffer, stored flat: all token ids in one ``array`` plus offsets.

    A buffer holds up to ``--docs_buffer_size`` documents (100,000 by default), which is what
    bounds preprocessing memory; one Python ``array`` per sentence and a list per document would
    cost ~150 bytes of object overhead per sentence on top of 2 bytes per token, so a buffer of a
    large corpus would be several times the size of its tokens. ``buffer[i]`` gives
    ``(first_line, sentences)`` with the sentences sliced out on demand.
    """

    def __init__(self, typecode: str):
        self._tokens = array(typecode)
        self._sentence_ends = array("q")  # end offset of each sentence in _tokens
        self._document_ends = array("q")  # end index of each document in _sentence_ends
        self.first_lines = array("q")

    def append(self, first_line: int, sentences: Sequence[Sequence[int]]) -> None:
        for ids in sentences:
            self._tokens.extend(ids)
            self._sentence_ends.append(len(self._tokens))
        self._document_ends.append(len(self._sentence_ends))
        self.first_lines.append(first_line)

    def __len__(self) -> int:
        return len(self.first_lines)

    def __getitem__(self, index: int) -> Tuple[int, Document]:
        first = self._document_ends[index - 1] if index else 0
        ends = self._sentence_ends
        start = ends[first - 1] if first else 0
        sentences = []
        for end in ends[first:self._document_ends[index]]:
            sentences.append(self._tokens[start:end])
            start = end
        return self.first_lines[index], sentences


def truncate_pair(a: List[int], b: List[int], max_tokens: int, rng: random.Random) -> Tuple[List[int], List[int]]:
    """Shorten the pair to ``max_tokens`` (longer side first), cutting each side at its front or
    back at random, token by token (BERT's noise), computed in one step."""
    la, lb = pair_lengths(len(a), len(b), max_tokens)
    return _cut(a, len(a) - la, rng), _cut(b, len(b) - lb, rng)


def _cut(tokens: List[int], count: int, rng: random.Random) -> List[int]:
    if count <= 0:
        return tokens
    front = bin(rng.getrandbits(count)).count("1")  # each removed token: front or back, p = 0.5
    return tokens[front:len(tokens) - (count - front)]


def pair_instance(cls_id: int, sep_id: int, a: List[int], b: List[int]) -> Tuple[List[int], Tuple[int, int]]:
    """``[CLS] a [SEP] b [SEP]`` (``[CLS] a [SEP]`` when b is empty) and its segment boundaries."""
    src = [cls_id] + a + [sep_id]
    first = len(src)
    if b:
        src += b + [sep_id]
    return src, (first, len(src))


class DocumentProcessor(DataProcessor):
    """Base of the sentence-pair targets: fields ``src``, ``seg_pos`` and ``is_next``; subclasses
    implement ``document_instances``."""

    corpus = "documents"
    masked = True
    uses_dup_factor = True
    buffered = True
    min_seq_length = 5

    def fields(self) -> List[Field]:
        return super().fields() + [Field("seg_pos", "fixed", position_dtype(self.settings.seq_length), 2),
                                   Field("is_next", "fixed", np.dtype("u1"))]

    def check_corpus(self, path: str, sample: Sequence[Line]) -> None:
        if not has_blank_line(path):
            raise UserInputError(
                f"--target {self.name} reads documents of one sentence per line separated by blank lines, "
                f"and this corpus has no blank line (for one document per line use --target mlm)", path=path)

    def process(self, lines: Iterator[Line], writer: ShardWriter, shard_index: int) -> Dict[str, int]:
        self._other = self.shard_rng(shard_index, 1)
        self._typecode = "H" if self.vocab_size * (2 if self.word_flags else 1) <= 1 << 16 else "i"
        self._warned_single = False
        stats = {"documents": 0, "empty_sentences": 0}
        buffer = DocumentBuffer(self._typecode)
        for first_line, document in iter_documents(lines):
            sentences = []
            for _, text in document:
                ids = self.encode(text)
                if ids:
                    sentences.append(ids)
                else:
                    stats["empty_sentences"] += 1  # e.g. only control characters: nothing to learn
            if sentences:
                buffer.append(first_line, sentences)
                stats["documents"] += 1
            if len(buffer) >= self.settings.docs_buffer_size:
                self._flush(buffer, writer)
                buffer = DocumentBuffer(self._typecode)
        self._flush(buffer, writer)
        return stats

    def _flush(self, buffer: DocumentBuffer, writer: ShardWriter) -> None:
        if not len(buffer):
            return
        doc_rng = KeyedRandom()
        first_lines = buffer.first_lines
        for dup in range(self.dup_factor):
            # 8 numbers cover a document of up to 3 chunks; longer ones continue from a seeded Random.
            # (Rows become lists one at a time: the whole [documents x 8] as lists is ~300 bytes a row.)
            uniforms = keyed_uniforms(self.settings.seed, dup, first_lines, 8)
            for index, first_line in enumerate(first_lines):
                doc_rng.reset(uniforms[index].tolist(), rng_key(self.settings.seed, dup, first_line))
                self.document_instances(buffer, index, doc_rng, writer)
            self.buffer_progress(dup + 1, self.dup_factor)

    def walk_chunks(self, sentences: Document, rng: KeyedRandom,
                    emit: Callable[[List[array], int], int]) -> None:
        """Cut a document into chunks of consecutive sentences that fill a target length (sometimes
        a short one, so short inputs are trained too) and call ``emit(chunk, target_length)``;
        ``emit`` returns how many of the chunk's last sentences it did not use (they start the
        next chunk)."""
        max_tokens = self.settings.seq_length - 3
        target = max_tokens
        if rng.random() < self.settings.short_seq_prob:
            target = randint(rng, 2, max_tokens)
        chunk: List[array] = []
        length = 0
        i = 0
        while i < len(sentences):
            chunk.append(sentences[i])
            length += len(sentences[i])
            if i == len(sentences) - 1 or length >= target:
                i -= emit(chunk, target)
                chunk, length = [], 0
            i += 1

    def document_instances(self, buffer: DocumentBuffer, index: int, rng: KeyedRandom,
                           writer: ShardWriter) -> None:
        raise NotImplementedError

    @classmethod
    def collate(cls, data: DatasetFile, indices: Sequence[int], masker: Masker, rng: np.random.Generator) -> Batch:
        src, tgt_mlm, _ = mlm_batch(data, indices, masker, rng)
        seg_pos = np.asarray(data.array("seg_pos")[np.asarray(indices)], dtype=np.int64)
        is_next = np.asarray(data.array("is_next")[np.asarray(indices)], dtype=np.int64)
        return {"src": src, "seg": segments(src.shape[1], seg_pos[:, 0], seg_pos[:, 1]),
                "tgt_mlm": tgt_mlm, "is_next": is_next}


def flatten(pieces: Sequence[Any]) -> List[int]:
    tokens: List[int] = []
    for piece in pieces:
        tokens.extend(piece)
    return tokens
