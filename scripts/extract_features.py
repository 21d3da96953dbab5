"""Sentence vectors: encode each line of --test_path as ``[CLS] text [SEP]``, pool, and save a
float tensor [N x hidden_size] (one row per line, in file order) with ``torch.save``.

Optional BERT-whitening (Su et al., 2021) reduces the vectors to --whitening_size dimensions.
"""
import logging

import numpy as np
import torch

from uer.finetune.inputs import PairEncoder, TaskDataset, input_length
from uer.model_builder import build_embedding_encoder
from uer.model_loader import load_model, require_backbone
from uer.model_saver import atomic_write
from uer.opts import infer_opts
from uer.tokenizers import build_tokenizer
from uer.utils.cli import script_parser
from uer.utils.config import parse_args
from uer.utils.errors import UserInputError, cli_main
from uer.utils.pooling import pool
from uer.utils.textfile import iter_lines


def read_lines(path: str):
    lines = [text for _, text in iter_lines(path)]
    if not lines:
        raise UserInputError("empty file: expected one sentence per line", path=path)
    return lines


def whiten(vectors: torch.Tensor, size: int) -> torch.Tensor:
    """Centre, rotate by the covariance's SVD, scale to unit variance, keep ``size`` dims, L2-normalise."""
    mean = vectors.mean(dim=0, keepdim=True)
    u, s, _ = torch.linalg.svd(torch.cov((vectors - mean).T))
    kernel = (u / s.sqrt())[:, :size]
    out = (vectors - mean) @ kernel
    return out / out.norm(dim=1, keepdim=True).clamp(min=1e-12)


@cli_main
def main() -> None:
    parser = script_parser(__doc__)
    infer_opts(parser)
    parser.add_argument("--whitening_size", type=int, default=None, help="Whiten to this many dimensions.")
    args = parse_args(parser)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    seq_length = input_length(args)
    tokenizer = build_tokenizer(args)
    encoder_input = PairEncoder(tokenizer, seq_length)
    lines = read_lines(args.test_path)
    src, seg = zip(*(encoder_input(line) for line in lines))
    dataset = TaskDataset({"src": list(src), "seg": list(seg)}, path=args.test_path)

    embedding, encoder = build_embedding_encoder(args, len(tokenizer.vocab))
    model = torch.nn.ModuleDict({"embedding": embedding, "encoder": encoder})
    require_backbone(load_model(model, args.load_model_path), args.load_model_path)
    model.eval()

    vectors = torch.empty(len(lines), args.hidden_size)
    with torch.inference_mode():
        for indices in dataset.eval_batches(args.batch_size):
            batch = dataset.collate(indices)
            hidden = encoder(embedding(batch["src"], batch["seg"]), batch["seg"])
            vectors[torch.from_numpy(np.asarray(indices))] = pool(hidden, batch["seg"], args.pooling).float()
    if args.whitening_size:
        vectors = whiten(vectors, args.whitening_size)
    atomic_write(args.prediction_path, lambda temp: torch.save(vectors, temp))
    print(f"saved {tuple(vectors.shape)} features to {args.prediction_path}")


if __name__ == "__main__":
    main()
