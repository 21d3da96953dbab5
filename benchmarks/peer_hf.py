"""The peer: what a user would run instead of this toolkit, written as well as we know how.

    python benchmarks/peer_hf.py preprocess --corpus_path C --vocab_path V --output_path O
    python benchmarks/peer_hf.py pretrain --dataset_path D --config_path J --target bert|mlm|lm ...
    python benchmarks/peer_hf.py finetune --train_path T --dev_path D --test_path E --padding max_length|bucket ...
    python benchmarks/peer_hf.py infer --model_dir M --test_path T --prediction_path P

- preprocess: ``transformers``' fast BERT tokenizer over the corpus in batches of lines, ids saved as
  one int32 array + lengths (``.npz``): the tokenize-and-save step a transformers user runs before
  masking in a data collator. It builds no NSP pairs or static masks, so it does less work than
  preprocess.py.
- pretrain: ``BertForPreTraining`` (bert target) or ``BertForMaskedLM`` (mlm) of the same size, on the
  very batches our loader serves (same dataset file, seed and dynamic masks), in a plain loop with
  the same AdamW, schedule and clipping; the LSTM LM (lm target) has no transformers model, so its
  peer is the plain PyTorch ``nn.LSTM`` language model a user would write.
- finetune: ``BertForSequenceClassification`` from random init, fast tokenizer, either every example
  padded to ``--seq_length`` (run_glue's default) or length-grouped batches
  (``LengthGroupedSampler``, as ``Trainer(group_by_length=True)``) padded per batch to their longest.
- infer: the saved classifier, batches sorted by length and padded per batch, ``inference_mode``.

pretrain and finetune take ``--device cpu|cuda``, ``--precision fp32|bf16|fp16`` (autocast; fp16 with
a gradient scaler, as uer's ``--fp16``) and ``--compile`` (``torch.compile`` of each ``BertLayer``,
as uer compiles each transformer layer); attention is always SDPA. On CUDA the result adds
``peak_device_mb`` (``torch.cuda.max_memory_allocated``) and AdamW runs its fused kernel.

Each prints ``BENCH_RESULT {json}`` with its in-loop timings; the caller measures wall time and memory.
"""
import argparse
import json
import math
import os
import random
import sys
import time
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import emit, self_peak_rss_mb  # noqa: E402


def bert_config(config_path: str, vocab_size: int, **extra):
    from transformers import BertConfig

    with open(config_path, encoding="utf-8") as handle:
        c = json.load(handle)
    return BertConfig(vocab_size=vocab_size, hidden_size=c["hidden_size"], num_hidden_layers=c["layers_num"],
                      num_attention_heads=c["heads_num"], intermediate_size=c["feedforward_size"],
                      hidden_act=c.get("hidden_act", "gelu"), hidden_dropout_prob=c.get("dropout", 0.1),
                      attention_probs_dropout_prob=c.get("dropout", 0.1),
                      max_position_embeddings=c.get("max_seq_length", 512),
                      layer_norm_eps=c.get("layernorm_eps", 1e-12), **extra)


def tokenizer(vocab_path: str):
    """transformers' Rust BERT tokenizer over ``vocab_path``. transformers 5 takes ``vocab=`` and
    silently ignores ``vocab_file=`` (leaving a 5-token vocabulary that maps every character to
    [UNK]), so the vocabulary size is checked against the file."""
    import inspect

    from transformers import BertTokenizerFast

    key = "vocab" if "vocab" in inspect.signature(BertTokenizerFast.__init__).parameters else "vocab_file"
    tok = BertTokenizerFast(**{key: vocab_path}, do_lower_case=True)
    with open(vocab_path, encoding="utf-8") as handle:
        expected = sum(1 for line in handle if line.rstrip("\n"))
    if tok.vocab_size != expected:
        raise RuntimeError(f"{vocab_path}: transformers' tokenizer holds {tok.vocab_size} tokens, the file {expected}")
    return tok


def adamw(model: nn.Module, lr: float, weight_decay: float = 0.01) -> torch.optim.Optimizer:
    """AdamW with decay on matrices only, as uer's build_optimizer (and nanoGPT) do; fused on CUDA."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    fused = {"fused": True} if params and params[0].is_cuda else {}
    return torch.optim.AdamW(groups, lr=lr, **fused)


class Runtime:
    """Device, autocast precision, loss scaler and timing of ``--device``/``--precision``/``--compile``."""

    DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

    def __init__(self, opts: argparse.Namespace):
        self.device = torch.device(getattr(opts, "device", "cpu"))
        self.dtype = self.DTYPES[getattr(opts, "precision", "fp32")]
        self.compile = getattr(opts, "compile", False)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.dtype is torch.float16)

    def prepare(self, model: nn.Module, layers) -> nn.Module:
        model.to(self.device)
        if self.compile:
            for layer in layers:
                layer.compile()
        return model

    def autocast(self):
        import contextlib

        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def to_device(self, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        return {key: value.to(self.device, non_blocking=True) for key, value in batch.items()}

    def step(self, model: nn.Module, loss: torch.Tensor, optimizer, scheduler) -> None:
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        self.scaler.step(optimizer)
        self.scaler.update()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)

    def now(self) -> float:
        """A timestamp after the device finished the work queued so far."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def memory(self) -> Dict[str, float]:
        if self.device.type == "cuda":
            return {"peak_device_mb": torch.cuda.max_memory_allocated(self.device) / 2 ** 20}
        return {}


def linear_schedule(optimizer: torch.optim.Optimizer, total_steps: int, warmup: float = 0.1):
    from transformers import get_linear_schedule_with_warmup

    return get_linear_schedule_with_warmup(optimizer, int(total_steps * warmup), total_steps)


# ----------------------------------------------------------------------------------------------- preprocess
def preprocess(opts: argparse.Namespace) -> None:
    tok = tokenizer(opts.vocab_path)
    ids: List[np.ndarray] = []
    lengths: List[int] = []
    start = time.perf_counter()

    def flush(lines: List[str]) -> None:
        for row in tok(lines, add_special_tokens=False)["input_ids"]:
            ids.append(np.asarray(row, dtype=np.int32))
            lengths.append(len(row))

    chunk: List[str] = []
    with open(opts.corpus_path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line:
                chunk.append(line)
            if len(chunk) == 10000:
                flush(chunk)
                chunk = []
    if chunk:
        flush(chunk)
    data = np.concatenate(ids) if ids else np.zeros(0, np.int32)
    tmp = opts.output_path + ".tmp.npz"
    np.savez(tmp, ids=data, lengths=np.asarray(lengths, dtype=np.int32))
    os.replace(tmp, opts.output_path)
    emit({"instances": len(lengths), "tokens": int(data.size), "seconds": time.perf_counter() - start,
          "peak_rss_mb": self_peak_rss_mb()})


# ----------------------------------------------------------------------------------------------- pretrain
class LstmLanguageModel(nn.Module):
    """Embedding -> stacked nn.LSTM -> vocabulary projection; loss on next-token ids (0 ignored)."""

    def __init__(self, vocab_size: int, emb_size: int, hidden_size: int, layers_num: int, dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_size)
        self.lstm = nn.LSTM(emb_size, hidden_size, layers_num, batch_first=True, dropout=dropout)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden_size, vocab_size)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(self.dropout(self.embedding(src)))
        logits = self.output(self.dropout(hidden))
        return nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), tgt.view(-1), ignore_index=0)


def pretrain_model(opts: argparse.Namespace, vocab_size: int) -> nn.Module:
    if opts.target == "lm":
        with open(opts.config_path, encoding="utf-8") as handle:
            c = json.load(handle)
        return LstmLanguageModel(vocab_size, c["emb_size"], c["hidden_size"], c["layers_num"], c.get("dropout", 0.1))
    from transformers import BertForMaskedLM, BertForPreTraining

    # uer's BERT targets have their own output matrix (no --tie_weights in the preset): same here.
    config = bert_config(opts.config_path, vocab_size, tie_word_embeddings=False, attn_implementation="sdpa")
    return BertForPreTraining(config) if opts.target == "bert" else BertForMaskedLM(config)


def pretrain_loss(model: nn.Module, batch: Dict[str, torch.Tensor], target: str) -> torch.Tensor:
    src, seg = batch["src"], batch["seg"]
    if target == "lm":
        return model(src, batch["tgt"])
    labels = batch["tgt_mlm"].masked_fill(batch["tgt_mlm"] == 0, -100)
    inputs = {"input_ids": src, "attention_mask": (seg > 0).long(), "token_type_ids": (seg == 2).long(),
              "labels": labels}
    if target == "bert":
        inputs["next_sentence_label"] = batch["is_next"]
    return model(**inputs).loss


def pretrain(opts: argparse.Namespace) -> None:
    from uer.data.loader import build_pretrain_loader

    torch.manual_seed(opts.seed)
    loader = iter(build_pretrain_loader(opts.dataset_path, batch_size=opts.batch_size, seed=opts.seed,
                                        batch_order="bucketed"))
    vocab_size = loader.dataset.header["vocab"]["size"]
    run = Runtime(opts)
    model = pretrain_model(opts, vocab_size)
    run.prepare(model, getattr(getattr(getattr(model, "bert", None), "encoder", None), "layer", []))
    model.train()
    total = opts.warmup_steps + opts.steps
    optimizer = adamw(model, opts.learning_rate)
    scheduler = linear_schedule(optimizer, total)
    tokens, start = 0, time.perf_counter()
    for step in range(total):
        if step == opts.warmup_steps:
            tokens, start = 0, run.now()
        batch = next(loader)
        tokens += int((batch["seg"] > 0).sum())
        with run.autocast():
            loss = pretrain_loss(model, run.to_device(batch), opts.target)
        run.step(model, loss, optimizer, scheduler)
    seconds = run.now() - start
    emit({"real_tokens_per_s": tokens / seconds, "s_per_step": seconds / opts.steps,
          "real_tokens_per_step": tokens / opts.steps, "loss": float(loss), "threads": torch.get_num_threads(),
          "params": sum(p.numel() for p in model.parameters()), "peak_rss_mb": self_peak_rss_mb(), **run.memory()})


# ----------------------------------------------------------------------------------------------- finetune
def read_tsv(path: str, with_labels: bool = True) -> Tuple[List[str], List[int]]:
    with open(path, encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        text_col = header.index("text_a")
        label_col = header.index("label") if with_labels else None
        texts, labels = [], []
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < len(header):
                continue
            texts.append(fields[text_col])
            if label_col is not None:
                labels.append(int(fields[label_col]))
    return texts, labels


class Encoded:
    """Token ids of a file's texts, truncated to ``seq_length`` and padded to it when ``fixed``."""

    def __init__(self, tok, texts: Sequence[str], labels: Sequence[int], seq_length: int, fixed: bool):
        enc = tok(list(texts), truncation=True, max_length=seq_length,
                  padding="max_length" if fixed else False, return_token_type_ids=False,
                  return_attention_mask=False)
        self.ids = [np.asarray(row, dtype=np.int64) for row in enc["input_ids"]]
        self.lengths = [len(row) if not fixed else int((row != 0).sum()) for row in self.ids]
        self.labels = np.asarray(labels, dtype=np.int64) if len(labels) else None

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, indices: Sequence[int]) -> Dict[str, torch.Tensor]:
        width = max(len(self.ids[i]) for i in indices)
        ids = np.zeros((len(indices), width), dtype=np.int64)
        for row, i in enumerate(indices):
            ids[row, :len(self.ids[i])] = self.ids[i]
        out = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy((ids != 0).astype(np.int64))}
        if self.labels is not None:
            out["labels"] = torch.from_numpy(self.labels[list(indices)])
        return out


def train_batches(data: Encoded, batch_size: int, bucket: bool, seed: int) -> List[List[int]]:
    generator = torch.Generator().manual_seed(seed)
    if bucket:
        from transformers.trainer_pt_utils import LengthGroupedSampler

        order = list(LengthGroupedSampler(batch_size, lengths=data.lengths, generator=generator))
    else:
        order = torch.randperm(len(data), generator=generator).tolist()
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def predict_labels(model: nn.Module, data: Encoded, batch_size: int,
                   run: "Runtime" = None) -> Tuple[np.ndarray, float]:
    """Arg-max labels in file order, and the seconds the batch loop took."""
    model.eval()
    order = sorted(range(len(data)), key=lambda i: -data.lengths[i])
    predictions = np.zeros(len(data), dtype=np.int64)
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(order), batch_size):
            indices = order[i:i + batch_size]
            batch = data.batch(indices)
            batch.pop("labels", None)
            if run is None:
                predictions[indices] = model(**batch).logits.argmax(-1).numpy()
                continue
            with run.autocast():
                predictions[indices] = model(**run.to_device(batch)).logits.argmax(-1).cpu().numpy()
    seconds = time.perf_counter() - start
    model.train()
    return predictions, seconds


def finetune(opts: argparse.Namespace) -> None:
    from transformers import BertForSequenceClassification

    torch.manual_seed(opts.seed)
    random.seed(opts.seed)
    tok = tokenizer(opts.vocab_path)
    fixed = opts.padding == "max_length"
    train = Encoded(tok, *read_tsv(opts.train_path), opts.seq_length, fixed)
    dev = Encoded(tok, *read_tsv(opts.dev_path), opts.seq_length, fixed)
    test = Encoded(tok, *read_tsv(opts.test_path), opts.seq_length, fixed) if opts.test_path else None
    labels_num = int(max(train.labels.max(), dev.labels.max())) + 1
    run = Runtime(opts)
    model = BertForSequenceClassification(bert_config(opts.config_path, tok.vocab_size, num_labels=labels_num,
                                                      attn_implementation="sdpa"))
    run.prepare(model, model.bert.encoder.layer)
    model.train()
    steps_per_epoch = math.ceil(len(train) / opts.batch_size)
    optimizer = adamw(model, opts.learning_rate)
    scheduler = linear_schedule(optimizer, steps_per_epoch * opts.epochs_num)
    epochs = []
    for epoch in range(1, opts.epochs_num + 1):
        batches = train_batches(train, opts.batch_size, not fixed, opts.seed + epoch)
        start = run.now()
        for indices in batches:
            with run.autocast():
                loss = model(**run.to_device(train.batch(indices))).loss
            run.step(model, loss, optimizer, scheduler)
        seconds = run.now() - start
        dev_pred, _ = predict_labels(model, dev, opts.batch_size, run)
        epochs.append({"seconds": seconds, "examples_per_s": len(train) / seconds,
                       "dev_acc": float((dev_pred == dev.labels).mean())})
    result = {"epochs": epochs, "train_examples": len(train), "peak_rss_mb": self_peak_rss_mb(), **run.memory()}
    if test is not None:
        test_pred, _ = predict_labels(model, test, opts.batch_size, run)
        result["test_acc"] = float((test_pred == test.labels).mean())
    if opts.save_dir:
        model.save_pretrained(opts.save_dir)
        tok.save_pretrained(opts.save_dir)
    emit(result)


# ----------------------------------------------------------------------------------------------- infer
def infer(opts: argparse.Namespace) -> None:
    from transformers import BertForSequenceClassification, BertTokenizerFast

    tok = BertTokenizerFast.from_pretrained(opts.model_dir)
    model = BertForSequenceClassification.from_pretrained(opts.model_dir)
    texts, _ = read_tsv(opts.test_path, with_labels=False)
    data = Encoded(tok, texts, [], opts.seq_length, fixed=False)
    predictions, seconds = predict_labels(model, data, opts.batch_size)
    tmp = opts.prediction_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write("label\n" + "".join(f"{p}\n" for p in predictions))
    os.replace(tmp, opts.prediction_path)
    emit({"examples": len(data), "loop_seconds": seconds, "examples_per_s": len(data) / seconds,
          "peak_rss_mb": self_peak_rss_mb()})


def runtime_opts(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--precision", choices=sorted(Runtime.DTYPES), default="fp32")
    parser.add_argument("--compile", action="store_true", help="torch.compile each BertLayer.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("preprocess")
    p.add_argument("--corpus_path", required=True)
    p.add_argument("--vocab_path", required=True)
    p.add_argument("--output_path", required=True)
    p = sub.add_parser("pretrain")
    p.add_argument("--dataset_path", required=True)
    p.add_argument("--config_path", required=True)
    p.add_argument("--target", choices=["bert", "mlm", "lm"], required=True)
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--warmup_steps", type=int, default=10)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--learning_rate", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=7)
    runtime_opts(p)
    p = sub.add_parser("finetune")
    for name in ("train_path", "dev_path", "vocab_path", "config_path"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--test_path", default=None)
    p.add_argument("--padding", choices=["max_length", "bucket"], default="bucket")
    p.add_argument("--seq_length", type=int, default=128)
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--learning_rate", type=float, default=1e-4)
    p.add_argument("--epochs_num", type=int, default=1)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--save_dir", default=None)
    runtime_opts(p)
    p = sub.add_parser("infer")
    p.add_argument("--model_dir", required=True)
    p.add_argument("--test_path", required=True)
    p.add_argument("--prediction_path", required=True)
    p.add_argument("--seq_length", type=int, default=128)
    p.add_argument("--batch_size", type=int, default=64)
    opts = parser.parse_args()
    {"preprocess": preprocess, "pretrain": pretrain, "finetune": finetune, "infer": infer}[opts.command](opts)


if __name__ == "__main__":
    main()
