"""Reading task files: TSV columns found by header name, JSON files, label maps; every bad value
stops with the file, the line and what was expected (:class:`UserInputError`)."""
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from uer.finetune.jsonfile import load_json
from uer.utils.errors import UserInputError
from uer.utils.textfile import iter_lines, require_file


class TsvRow:
    """One data line: ``row["text_a"]``; ``row.get("text_b")`` is None when the column is absent."""

    __slots__ = ("fields", "columns", "path", "line")

    def __init__(self, fields: List[str], columns: Dict[str, int], path: str, line: int):
        self.fields, self.columns, self.path, self.line = fields, columns, path, line

    def __getitem__(self, name: str) -> str:
        return self.fields[self.columns[name]]

    def get(self, name: str) -> Optional[str]:
        index = self.columns.get(name)
        return None if index is None else self.fields[index]

    def error(self, message: str) -> UserInputError:
        return UserInputError(message, path=self.path, line=self.line)


def read_tsv(path: str, required: Sequence[str], optional: Sequence[str] = ()) -> Tuple[Dict[str, int], Iterator[TsvRow]]:
    """Open a tab-separated file whose first line names the columns.

    Returns the ``{column: index}`` of the ``required`` and present ``optional`` columns, and an
    iterator over the data lines. Missing required columns, an empty file, or a line with too few
    fields raise UserInputError; extra columns are allowed (and ignored).
    """
    require_file(path, "task file")
    lines = iter_lines(path, "task file")
    try:
        _, header = next(lines)
    except StopIteration:
        raise UserInputError("the file is empty (expected a header line naming the columns)", path=path) from None
    names = header.split("\t")
    position = {name.strip(): i for i, name in enumerate(names)}
    missing = [name for name in required if name not in position]
    if missing:
        raise UserInputError(f"the header lacks the column(s) {', '.join(missing)} (found: {', '.join(names)}); "
                             f"the first line must name the tab-separated columns", path=path, line=1)
    columns = {name: position[name] for name in list(required) + [n for n in optional if n in position]}
    needed = max(columns.values(), default=-1) + 1  # no column needed: any line counts as a row

    def rows() -> Iterator[TsvRow]:
        for line_no, text in lines:
            fields = text.split("\t")
            if len(fields) < needed:
                raise UserInputError(f"expected at least {needed} tab-separated fields "
                                     f"({', '.join(columns)}), found {len(fields)}", path=path, line=line_no)
            yield TsvRow(fields, columns, path, line_no)

    return columns, rows()


def parse_label(row: TsvRow, column: str = "label", labels_num: Optional[int] = None) -> int:
    """A class id: a non-negative integer, below ``labels_num`` when given."""
    text = row[column].strip()
    try:
        label = int(text)
    except ValueError:
        raise row.error(f"the {column} must be an integer class id, got {text!r}") from None
    if label < 0 or (labels_num is not None and label >= labels_num):
        limit = f"outside 0..{labels_num - 1}" if labels_num is not None else "negative: class ids start at 0"
        raise row.error(f"{column} {label} is {limit}")
    return label


def parse_floats(row: TsvRow, column: str, count: Optional[int] = None) -> List[float]:
    """Space-separated floats (e.g. teacher ``logits``); exactly ``count`` of them when given."""
    text = row[column].strip()
    try:
        values = [float(x) for x in text.split()]
    except ValueError:
        raise row.error(f"the {column} column must hold space-separated numbers, got {text[:40]!r}") from None
    if count is not None and len(values) != count:
        raise row.error(f"expected {count} numbers in the {column} column, found {len(values)}")
    return values


def read_json_file(path: str) -> object:
    """Parse a JSON file; a missing or empty file, bad UTF-8 or malformed JSON is reported with its line."""
    return load_json(path)


def read_label2id(path: str) -> Dict[str, int]:
    """A ``{"tag": id}`` JSON object whose ids are exactly 0..n-1."""
    data = read_json_file(path)
    if not isinstance(data, dict) or not data:
        raise UserInputError('expected a non-empty JSON object like {"O": 0, "B-PER": 1, ...}', path=path)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in data.values()):
        raise UserInputError("every label id must be an integer", path=path)
    if sorted(data.values()) != list(range(len(data))):
        raise UserInputError(f"label ids must be 0..{len(data) - 1}, each used once; got {sorted(data.values())}",
                             path=path)
    return {str(k): v for k, v in data.items()}
