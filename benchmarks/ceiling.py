"""The ceiling: what this CPU can do, to say how close each tool gets.

    python benchmarks/ceiling.py --config_path models/bert/mini_config.json --vocab_size 21128

1. fp32 matmul GFLOP/s of ``torch.mm``: a large square product (the peak) and the shape of
   BERT-mini's feed-forward at batch 32 x seq 128 ([4096 x 256] @ [256 x 1024]).
2. BERT-mini's training step written directly, no framework around it: embeddings, post-LN layers
   with ``scaled_dot_product_attention``, MLM head on the masked 15% of positions, NSP head, AdamW,
   at batch 32 x seq 128 with every token real (no padding, no mask). Its tokens/s is the most a
   tool can hope for with this model on this machine.

``training_flops_per_token`` gives the model FLOPs (3 x forward, matmuls and attention only) used
to turn any tool's real tokens/s into achieved GFLOP/s.
"""
import argparse
import json
import os
import sys
import time
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import emit, self_peak_rss_mb  # noqa: E402

MASK_FRACTION = 0.15


def training_flops_per_token(config: Dict, vocab_size: int, target: str, seq_length: int = 128) -> float:
    """Model FLOPs of one trained token (forward + backward = 3 x forward, multiply-add = 2).

    Transformer: per layer 4H^2 (Q, K, V, output) + 2 H FF (feed-forward) per token, plus attention
    2 S H (scores and weighted sum) at ``seq_length``; MLM head (H^2 + H V) on 15% of the tokens.
    LSTM LM: 4 (in H + H^2) per layer and the H V output projection on every token.
    """
    h, vocab = config["hidden_size"], vocab_size
    if config.get("encoder", "transformer") in ("lstm", "rnn", "gru"):
        gates = {"lstm": 4, "gru": 3, "rnn": 1}[config["encoder"]]
        forward, width = 0.0, config["emb_size"]
        for _ in range(config["layers_num"]):
            forward += 2 * gates * (width * h + h * h)
            width = h
        forward += 2 * h * vocab
        return 3 * forward
    ff, layers = config["feedforward_size"], config["layers_num"]
    forward = layers * (2 * (4 * h * h + 2 * h * ff) + 2 * 2 * seq_length * h)
    if target in ("bert", "mlm"):
        forward += MASK_FRACTION * 2 * (h * h + h * vocab)
    return 3 * forward


def matmul_gflops(m: int, k: int, n: int, seconds: float = 2.0) -> float:
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(3):
        torch.mm(a, b)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b)
        count += 1
    return 2 * m * k * n * count / (time.perf_counter() - start) / 1e9


class Layer(nn.Module):
    def __init__(self, h: int, heads: int, ff: int, dropout: float, eps: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv, self.out = nn.Linear(h, 3 * h), nn.Linear(h, h)
        self.ff1, self.ff2 = nn.Linear(h, ff), nn.Linear(ff, h)
        self.ln1, self.ln2 = nn.LayerNorm(h, eps=eps), nn.LayerNorm(h, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, h = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=p).transpose(1, 2).reshape(b, s, h)
        x = self.ln1(x + F.dropout(self.out(a), p, self.training))
        return self.ln2(x + F.dropout(self.ff2(F.gelu(self.ff1(x))), p, self.training))


class BareBert(nn.Module):
    """BERT with MLM (on the given positions) and NSP heads; loss only."""

    def __init__(self, vocab: int, h: int, heads: int, ff: int, layers: int, dropout: float, eps: float,
                 max_len: int = 512):
        super().__init__()
        self.word, self.pos, self.seg = nn.Embedding(vocab, h), nn.Embedding(max_len, h), nn.Embedding(3, h)
        self.ln, self.dropout = nn.LayerNorm(h, eps=eps), dropout
        self.layers = nn.ModuleList(Layer(h, heads, ff, dropout, eps) for _ in range(layers))
        self.mlm_dense, self.mlm_ln, self.mlm_out = nn.Linear(h, h), nn.LayerNorm(h, eps=eps), nn.Linear(h, vocab)
        self.pooler, self.nsp = nn.Linear(h, h), nn.Linear(h, 2)

    def forward(self, src, seg, mlm_pos, mlm_tgt, is_next) -> torch.Tensor:
        pos = torch.arange(src.size(1))
        x = F.dropout(self.ln(self.word(src) + self.pos(pos) + self.seg(seg)), self.dropout, self.training)
        for layer in self.layers:
            x = layer(x)
        picked = x.reshape(-1, x.size(-1))[mlm_pos]
        logits = self.mlm_out(self.mlm_ln(F.gelu(self.mlm_dense(picked))))
        nsp = self.nsp(torch.tanh(self.pooler(x[:, 0])))
        return F.cross_entropy(logits, mlm_tgt) + F.cross_entropy(nsp, is_next)


def bert_ceiling(config: Dict, vocab: int, batch: int, seq: int, warmup: int, steps: int) -> Dict:
    torch.manual_seed(0)
    model = BareBert(vocab, config["hidden_size"], config["heads_num"], config["feedforward_size"],
                     config["layers_num"], config.get("dropout", 0.1), config.get("layernorm_eps", 1e-12))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    low = min(1000, vocab // 2)  # skip the special/rare rows of a real vocab when it is large enough
    src = torch.randint(low, vocab, (batch, seq))
    seg = torch.ones(batch, seq, dtype=torch.long)
    seg[:, seq // 2:] = 2
    masked = max(1, int(round(MASK_FRACTION * seq)))
    mlm_pos = (torch.stack([torch.randperm(seq)[:masked] for _ in range(batch)])
               + torch.arange(batch)[:, None] * seq).reshape(-1)
    mlm_tgt = torch.randint(low, vocab, (mlm_pos.numel(),))
    is_next = torch.randint(0, 2, (batch,))
    timings = {}
    for name, with_step in (("fwd_bwd", False), ("train_step", True)):
        for i in range(warmup + steps):
            if i == warmup:
                start = time.perf_counter()
            loss = model(src, seg, mlm_pos, mlm_tgt, is_next)
            loss.backward()
            if with_step:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        timings[name] = (time.perf_counter() - start) / steps
    return {"tokens_per_s": batch * seq / timings["train_step"], "s_per_step": timings["train_step"],
            "fwd_bwd_tokens_per_s": batch * seq / timings["fwd_bwd"], "fwd_bwd_s_per_step": timings["fwd_bwd"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config_path", required=True)
    parser.add_argument("--vocab_size", type=int, default=21128)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--seq_length", type=int, default=128)
    parser.add_argument("--warmup_steps", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--matmul_seconds", type=float, default=2.0)
    opts = parser.parse_args()
    with open(opts.config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    h, ff = config["hidden_size"], config["feedforward_size"]
    result = {"matmul_square_gflops": matmul_gflops(2048, 2048, 2048, opts.matmul_seconds),
              "matmul_ffn_gflops": matmul_gflops(opts.batch_size * opts.seq_length, h, ff, opts.matmul_seconds),
              "threads": torch.get_num_threads()}
    result.update(bert_ceiling(config, opts.vocab_size, opts.batch_size, opts.seq_length, opts.warmup_steps,
                               opts.steps))
    result["flops_per_token"] = training_flops_per_token(config, opts.vocab_size, "bert", opts.seq_length)
    result["gflops"] = result["tokens_per_s"] * result["flops_per_token"] / 1e9
    result["peak_rss_mb"] = self_peak_rss_mb()
    emit(result)


if __name__ == "__main__":
    main()
