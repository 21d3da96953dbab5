"""preprocess.py on the real book-review corpus (the repository's copy, or UER_DATA_DIR's)."""
import os

from tests.conftest import data_file
from uer.data.format import DatasetFile
from uer.data.loader import build_pretrain_loader
from uer.tokenizers.vocab import Vocab


def test_book_review_bert_corpus(tmp_path):
    import preprocess

    corpus = data_file("corpora", "book_review_bert.txt")
    vocab = data_file("models", "google_zh_vocab.txt")
    counts = []
    for processes in (1, 2):
        output = str(tmp_path / f"ds{processes}.pt")
        preprocess.main(["--corpus_path", corpus, "--vocab_path", vocab, "--dataset_path", output,
                         "--processes_num", str(processes), "--target", "bert", "--no_progress"])
        data = DatasetFile(output)
        counts.append(len(data))
        assert data.header["counts"]["lines"] == 58533
        # The original wrote 52 MB of padded pickles for this corpus; we aim at a third or less.
        assert os.path.getsize(output) < 52e6 / 3
    assert counts[0] == counts[1] > 100000
    loader = build_pretrain_loader(output, 32, vocab=Vocab.load(vocab))
    batch = next(loader)
    assert set(batch) == {"src", "seg", "tgt_mlm", "is_next"} and batch["src"].shape[1] <= 128
