"""Small shared builders for tests: tiny model options and batches for every target."""
import torch

from uer.model_builder import model_args

TINY = dict(emb_size=32, hidden_size=32, feedforward_size=64, heads_num=4, layers_num=2, dropout=0.1,
            max_seq_length=64, labels_num=3, kernel_size=3, block_size=2)
VOCAB = 99


def tiny_args(**options):
    return model_args({**TINY, **options})


def batch_for(target: str, batch_size: int = 3, length: int = 8, generator_seed: int = 0):
    """A random batch with the keys ``target`` reads (docs/architecture.md); row 1 is padded."""
    g = torch.Generator().manual_seed(generator_seed)
    src = torch.randint(5, VOCAB, (batch_size, length), generator=g)
    seg = torch.ones(batch_size, length, dtype=torch.long)
    seg[:, length // 2:] = 2
    src[1, length - 2:] = 0
    seg[1, length - 2:] = 0
    tokens = torch.randint(5, VOCAB, (batch_size, length), generator=g)
    batch = {"src": src, "seg": seg}
    if target in ("mlm", "bert", "albert"):
        chosen = torch.rand(batch_size, length, generator=g) < 0.3
        chosen[:, 1] = True
        batch["tgt_mlm"] = torch.where(chosen & (seg > 0), tokens, 0)
        batch["is_next"] = torch.randint(0, 2, (batch_size,), generator=g)
    elif target in ("lm", "prefixlm"):
        batch["tgt"] = torch.where(seg > 0, tokens, 0)
    elif target == "bilm":
        batch["tgt_forward"] = torch.where(seg > 0, tokens, 0)
        batch["tgt_backward"] = torch.where(seg > 0, tokens.flip(1), 0)
    elif target == "cls":
        batch["tgt"] = torch.randint(0, 3, (batch_size,), generator=g)
    elif target in ("seq2seq", "t5"):
        tgt = torch.randint(5, VOCAB, (batch_size, 6), generator=g)
        tgt[2, 4:] = 0
        batch["tgt_in"], batch["tgt_out"] = tgt, torch.roll(tgt, -1, 1) * (tgt > 0)
        batch["tgt_seg"] = (tgt > 0).long()
    return batch
