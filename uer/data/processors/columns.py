"""Tab-separated corpora (cls, seq2seq, prefixlm): column checks with file:line errors."""
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from uer.data.corpus import Line
from uer.data.processors.base import DataProcessor, pair_lengths


class ColumnsProcessor(DataProcessor):
    """A corpus of tab-separated lines with ``columns`` columns; a header line is skipped when
    its first column is ``header_word``; blank lines are skipped and counted."""

    corpus = "tab"
    columns: Sequence[int] = (2,)
    layout = "source<TAB>target"
    header_word: Optional[str] = None

    def split(self, line_no: int, text: str) -> Optional[List[str]]:
        """The columns of a line, ``None`` for a blank line or the header; raise if malformed."""
        if not text.strip():
            return None
        columns = text.split("\t")
        if line_no == 1 and self.header_word is not None and columns[0].strip() == self.header_word:
            return None
        if len(columns) not in self.columns:
            raise self.error(f"--target {self.name} expects '{self.layout}' lines; this line has "
                             f"{len(columns)} tab-separated column(s)", line_no)
        return columns

    def check_line(self, line_no: int, text: str) -> None:
        self.split(line_no, text)

    def rows(self, lines: Iterable[Line], stats: Dict[str, int]) -> Iterator[Tuple[int, List[str]]]:
        """``(line_no, columns)`` of every non-blank, non-header line; counts what was skipped."""
        for line_no, text in lines:
            columns = self.split(line_no, text)
            if columns is None:
                key = "blank_lines" if not text.strip() else "header_lines"
                stats[key] = stats.get(key, 0) + 1
                continue
            yield line_no, columns


def truncate_tail(a: List[int], b: List[int], max_tokens: int) -> Tuple[List[int], List[int]]:
    """Drop tokens from the end of the longer side until the pair fits ``max_tokens``."""
    la, lb = pair_lengths(len(a), len(b), max_tokens)
    return a[:la], b[:lb]
