"""Sequence tagging (NER): the reader and the entity-level evaluation, shared by run_ner and
run_ner_infer.

File format: tab-separated with a header; ``text_a`` holds tokens separated by single spaces (one
Chinese character each in MSRA), ``label`` the same number of tags. Tokens are looked up in the
vocabulary as they are (no sub-word splitting, no ``[CLS]``/``[SEP]``), as UER-py did.
"""
import logging
from argparse import Namespace
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch.nn as nn

from uer.finetune.inputs import TaskDataset
from uer.finetune.metrics import entity_prf
from uer.finetune.predict import predict
from uer.finetune.tsv import read_tsv
from uer.training.runtime import DistContext
from uer.utils.errors import UserInputError

logger = logging.getLogger(__name__)


def read_tagging(path: str, tokenizer, label2id: Dict[str, int], seq_length: int,
                 with_labels: bool = True) -> TaskDataset:
    """``src``, ``seg`` (all 1) and ``tgt`` (tag ids), cut to ``seq_length`` tokens; ``meta`` keeps the
    full token counts and, with labels, the gold tag strings (evaluation scores the whole sentence)."""
    columns, rows = read_tsv(path, ["text_a"] + (["label"] if with_labels else []))
    sentences, gold = [], []
    for row in rows:
        tokens = row["text_a"].strip().split(" ")
        if with_labels:
            tags = row["label"].strip().split(" ")
            if len(tags) != len(tokens):
                raise row.error(f"{len(tokens)} tokens but {len(tags)} tags: text_a and label must have "
                                f"the same number of space-separated items")
            unknown = [t for t in tags if t not in label2id]
            if unknown:
                raise row.error(f"tag {unknown[0]!r} is not in the label map ({', '.join(label2id)})")
            gold.append(tags)
        sentences.append(tokens)
    if not sentences:
        raise UserInputError("no examples: the file has a header but no data lines", path=path)
    return tagging_dataset(sentences, tokenizer, seq_length, gold if with_labels else None, label2id, path)


def tagging_dataset(sentences: Sequence[Sequence[str]], tokenizer, seq_length: int,
                    gold: Optional[List[List[str]]] = None, label2id: Optional[Dict[str, int]] = None,
                    path: Optional[str] = None) -> TaskDataset:
    """The tagger's inputs for token lists (``gold`` tags add ``tgt``), cut to ``seq_length`` tokens."""
    src, seg, tgt = [], [], []
    convert = tokenizer.convert_tokens_to_ids
    for k, tokens in enumerate(sentences):
        ids = convert(list(tokens[:seq_length]))
        src.append(np.asarray(ids, dtype=np.int32))
        seg.append(np.ones(len(ids), dtype=np.int8))
        if gold is not None:
            tgt.append(np.asarray([label2id[t] for t in gold[k][:seq_length]], dtype=np.int64))
    sequences = {"src": src, "seg": seg}
    if gold is not None:
        sequences["tgt"] = tgt
    dataset = TaskDataset(sequences, path=path)
    dataset.loss_tokens = "seg"  # the tagger's loss is a mean over real tokens
    full_lengths = [len(tokens) for tokens in sentences]
    dataset.meta.update(full_lengths=full_lengths, gold=gold or [])
    truncated = sum(1 for n in full_lengths if n > seq_length)
    if truncated:
        logger.warning("%s: %d of %d sentences are longer than --seq_length %d; their remaining tokens are "
                       "tagged O", path or "input", truncated, len(src), seq_length)
    return dataset


def predict_tags(model: nn.Module, data: TaskDataset, id2label: List[str], args: Namespace, ctx: DistContext,
                 batch_size: Optional[int] = None, outside: str = "O") -> List[List[str]]:
    """Tag strings per sentence in file order, as many as the sentence has tokens."""
    pred = predict(model, data, batch_size or args.batch_size, args, ctx, keys=("pred",), trim=("pred",))["pred"]
    full_lengths = data.meta["full_lengths"]
    return [[id2label[i] for i in row] + [outside] * (full_lengths[k] - len(row)) for k, row in enumerate(pred)]


def evaluate_tagger(model: nn.Module, data: TaskDataset, id2label: List[str], args: Namespace,
                    ctx: DistContext) -> Dict[str, float]:
    """Entity-level precision/recall/F1 (exact span and type), logged as UER-py did."""
    scores = entity_prf(data.meta["gold"], predict_tags(model, data, id2label, args, ctx))
    logger.info("Report precision, recall, and f1:")
    logger.info("%.3f, %.3f, %.3f", scores["precision"], scores["recall"], scores["f1"])
    return scores
