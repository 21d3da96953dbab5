"""Fixtures shared by the data pipeline tests: a tiny vocabulary, tiny corpora, running preprocess."""
import os
import random

import pytest

from uer.utils.constants import SPECIAL_TOKENS

# ~180 common characters: with the special tokens a vocabulary of ~185 ids (uint16 storage).
CHARS = ("的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心"
         "学么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动方期它头经长儿回位分"
         "爱老因很给名法间斯知世什两次使身者被高已亲其进此话常与活正感书读写风雨山水花草")


def make_vocab(directory: str, extra: str = "") -> str:
    path = os.path.join(str(directory), "vocab.txt")
    tokens = SPECIAL_TOKENS + sorted(set(CHARS + extra))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(tokens) + "\n")
    return path


def sentence(rng: random.Random, low: int = 3, high: int = 20) -> str:
    return "".join(rng.choice(CHARS) for _ in range(rng.randint(low, high)))


def write(directory: str, name: str, text: str) -> str:
    path = os.path.join(str(directory), name)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return path


def documents_corpus(rng: random.Random, docs: int, sentences: tuple = (1, 5), **kwargs) -> str:
    """BERT format: one sentence a line, documents separated by a blank line."""
    blocks = ["\n".join(sentence(rng, **kwargs) for _ in range(rng.randint(*sentences))) for _ in range(docs)]
    return "\n\n".join(blocks) + "\n"


def lines_corpus(rng: random.Random, lines: int, **kwargs) -> str:
    return "\n".join(sentence(rng, **kwargs) for _ in range(lines)) + "\n"


def run_preprocess(corpus: str, vocab: str, output: str, target: str, *extra: str,
                   processes: int = 1, seq_length: int = 32) -> None:
    import preprocess

    preprocess.main(["--corpus_path", corpus, "--vocab_path", vocab, "--dataset_path", output,
                     "--target", target, "--processes_num", str(processes), "--seq_length", str(seq_length),
                     "--tokenizer", "char", "--no_progress", *extra])


def expect_user_error(capsys, corpus: str, vocab: str, output: str, target: str, *extra: str,
                      processes: int = 1) -> str:
    """Run preprocess expecting exit status 2; return its error message."""
    with pytest.raises(SystemExit) as excinfo:
        run_preprocess(corpus, vocab, output, target, *extra, processes=processes)
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
    return err


def test_vocab_helper_builds_a_loadable_vocab(tmp_path):
    from uer.tokenizers.vocab import Vocab

    vocab = Vocab.load(make_vocab(tmp_path))
    vocab.require_special_tokens()
    assert 150 < len(vocab) < 256
