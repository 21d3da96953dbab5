"""Streaming: the peak memory of preprocess.py does not grow with the corpus (10x corpus, same peak).

Each run is a fresh interpreter whose peak RSS (``ru_maxrss``, workers included) is compared.
The smaller corpus is large enough (~1.3 MB) to fill the bounded buffers once, so what is
measured is growth with corpus size, not warm-up.
"""
import os
import random
import resource
import subprocess
import sys

import pytest

from tests.test_data_helpers import documents_corpus, make_vocab, write

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEASURE = """
import resource, sys
sys.path.insert(0, {repo!r})
import preprocess
preprocess.main(sys.argv[1:])
usage = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print("PEAK_KB", usage)
"""


def peak_rss_kb(corpus: str, vocab: str, output: str, target: str, processes: int) -> int:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE.format(repo=REPO), "--corpus_path", corpus, "--vocab_path", vocab,
         "--dataset_path", output, "--target", target, "--tokenizer", "char", "--docs_buffer_size", "200",
         "--dup_factor", "1", "--processes_num", str(processes), "--no_progress"],
        capture_output=True, text=True, cwd=os.path.dirname(output))
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split("PEAK_KB")[1])


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KB on Linux")
@pytest.mark.parametrize("target,processes", [("bert", 1), ("mlm", 2)])
def test_peak_memory_does_not_grow_with_the_corpus(tmp_path, target, processes):
    vocab = make_vocab(tmp_path)
    one = documents_corpus(random.Random(0), 4500, sentences=(1, 8), high=40)  # ~1.3 MB
    small = write(tmp_path, "small.txt", one)
    large = write(tmp_path, "large.txt", one * 10)
    small_peak = peak_rss_kb(small, vocab, str(tmp_path / "small.pt"), target, processes)
    large_peak = peak_rss_kb(large, vocab, str(tmp_path / "large.pt"), target, processes)
    assert os.path.getsize(tmp_path / "large.pt") > 8 * os.path.getsize(tmp_path / "small.pt")
    print(target, processes, small_peak, large_peak)
    assert large_peak <= 1.2 * small_peak, (small_peak, large_peak)
