"""Corpus reading: shards cut only at allowed boundaries, every line read once, line numbers exact."""
import random

import pytest

from uer.data.corpus import (Shard, has_blank_line, iter_documents, iter_shard_lines, plan_shards, read_sample)
from uer.utils.progress import ProgressBar

from tests.test_data_helpers import documents_corpus, lines_corpus, write


def read_all(path, shards):
    return [line for shard in shards for line in iter_shard_lines(path, shard)]


@pytest.mark.parametrize("parts", [1, 2, 3, 7, 50])
@pytest.mark.parametrize("boundary", ["line", "document"])
def test_shards_cover_every_line_once_with_exact_numbers(tmp_path, parts, boundary):
    text = documents_corpus(random.Random(parts), 40).replace("\n\n", "\n \r\n", 3)  # some blank lines hold spaces
    path = write(tmp_path, "c.txt", text.rstrip("\n"))  # the last line has no newline
    size = len(text.rstrip("\n").encode("utf-8"))
    shards = plan_shards(path, size, parts, boundary)
    assert shards[0].start == 0 and shards[-1].end == size
    assert all(a.end == b.start for a, b in zip(shards, shards[1:]))
    expected = [line.rstrip("\r") for line in text.rstrip("\n").split("\n")]
    lines = read_all(path, shards)
    assert [t for _, t in lines] == expected
    assert [n for n, _ in lines] == list(range(1, len(expected) + 1))
    if boundary == "document":  # no document is split between two shards
        for shard in shards:
            documents = list(iter_documents(iter_shard_lines(path, shard)))
            whole = list(iter_documents(read_all(path, shards)))
            assert all(doc in whole for doc in documents)


def test_shards_on_line_multiples(tmp_path):
    text = lines_corpus(random.Random(0), 100)
    path = write(tmp_path, "c.txt", text)
    shards = plan_shards(path, len(text.encode("utf-8")), 4, "line", lines_multiple=30)
    assert [s.first_line for s in shards] == [1, 31, 61, 91]
    assert len(read_all(path, shards)) == 100


def test_bom_crlf_and_blank_detection(tmp_path):
    path = write(tmp_path, "c.txt", "\ufeff第一\r\n第二\r\n")
    size, sample = read_sample(path)
    assert sample == [(1, "第一"), (2, "第二")]
    assert list(iter_shard_lines(path, Shard(0, 0, size, 1))) == sample
    assert not has_blank_line(path)
    assert has_blank_line(write(tmp_path, "d.txt", "a\n\t\nb\n"))
    assert has_blank_line(write(tmp_path, "e.txt", "\na\nb\n"))


def test_progress_bar_renders_rate_and_eta():
    import io

    stream = io.StringIO()
    bar = ProgressBar(4_000_000, "preprocess", stream=stream)
    bar.update(1_000_000, 1234, force=True)
    bar.close()
    out = stream.getvalue()
    assert "25.0%" in out and "1,234 lines" in out and "MB/s" in out and "ETA" in out and "100.0%" not in out
    assert out.endswith("\n")


def test_buffered_progress_follows_the_passes():
    from uer.data.pipeline import ShardProgress

    shown = []
    progress = ShardProgress(lambda nbytes, nlines: shown.append(nbytes), buffered=True)
    progress.read(1000, 10)
    assert shown == []  # reading a buffer is not progress yet
    progress.commit(0.5)
    progress.commit(1.0)
    progress.read(500, 5)
    progress.commit(0.2)
    assert shown == [500, 1000, 1100]
