"""Byte-level BPE speed and agreement: ``--tokenizer bpe`` against transformers' GPT2Tokenizer.

    python3 benchmarks/bpe_speed.py --vocab_size 8000

A BPE is trained with the ``tokenizers`` library on the repository's English-Chinese news sample
and book reviews (``--lines`` of each), saved as vocab.json + merges.txt, and the same texts are
tokenized by ours (cold: a fresh tokenizer with an empty cache; warm: the cache filled) and by
``transformers.GPT2Tokenizer`` (since transformers 5 backed by the Rust ``tokenizers``; there is no
pure-Python GPT-2 tokenizer any more), text by text and as one batch. Prints seconds and the number
of texts whose ids differ.
"""
import argparse
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from uer.tokenizers.bpe import load_bpe  # noqa: E402
from uer.tokenizers.vocab import Vocab  # noqa: E402


def texts(lines: int):
    with open(os.path.join(REPO, "corpora", "news-commentary-v13-en-zh_sampled.txt"), encoding="utf-8") as handle:
        news = [part for line in handle.read().splitlines()[:lines] for part in line.split("\t")]
    with open(os.path.join(REPO, "corpora", "book_review.txt"), encoding="utf-8") as handle:
        reviews = handle.read().splitlines()[:lines]
    return news + reviews


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=3000, help="Lines of each corpus (default 3000).")
    parser.add_argument("--vocab_size", type=int, default=8000, help="BPE vocabulary size (default 8000).")
    args = parser.parse_args()
    import tokenizers
    import transformers

    sample = texts(args.lines)
    with tempfile.TemporaryDirectory() as folder:
        trainer = tokenizers.ByteLevelBPETokenizer()
        trainer.train_from_iterator(sample, vocab_size=args.vocab_size, special_tokens=["<|endoftext|>"],
                                    show_progress=False)
        trainer.save_model(folder)
        vocab_path, merges_path = os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt")
        hf = transformers.GPT2Tokenizer.from_pretrained(folder)

        def ours():
            bpe = load_bpe(Vocab.load(vocab_path), merges_path)
            w2i = bpe.vocab.w2i
            return bpe, [[w2i[t] for t in bpe.tokenize(text)] for text in sample]

        cold, (bpe, ids) = timed(ours)
        w2i = bpe.vocab.w2i
        warm, _ = timed(lambda: [[w2i[t] for t in bpe.tokenize(text)] for text in sample])
        one_by_one, _ = timed(lambda: [hf(text, add_special_tokens=False)["input_ids"] for text in sample])
        batch, theirs = timed(lambda: hf(sample, add_special_tokens=False)["input_ids"])
    chars = sum(map(len, sample))
    print(f"{len(sample)} texts, {chars} characters, {sum(map(len, ids))} tokens, vocabulary {len(w2i)}")
    print(f"ours (--tokenizer bpe), cold cache, files read: {cold:.2f} s")
    print(f"ours, warm cache: {warm:.2f} s")
    print(f"transformers GPT2Tokenizer (Rust), text by text: {one_by_one:.2f} s")
    print(f"transformers GPT2Tokenizer (Rust), one batch: {batch:.2f} s")
    print(f"texts whose ids differ: {sum(a != b for a, b in zip(ids, theirs))} of {len(sample)}")


if __name__ == "__main__":
    main()
