"""JSON task files (CMRC, C3, ChID) read with the line number of every object and array, so that a
missing field or a wrong value is reported as ``file:line: reason`` rather than a KeyError.

Python's scanner does not expose positions, but its pure-Python variant calls the decoder's
``parse_object``/``parse_array``, which receive the offset: wrapping them costs ~0.2 s for a 3 MB
file (the string scanning stays in C).
"""
import bisect
import json
import json.decoder
import json.scanner
from typing import Any, Iterator, List, Optional, Tuple, Type, Union

from uer.utils.errors import UserInputError
from uer.utils.textfile import iter_lines, require_file


class JsonObject(dict):
    """A JSON object that remembers the line where it starts (``line``)."""

    line: Optional[int] = None


class JsonArray(list):
    """A JSON array that remembers the line where it starts (``line``)."""

    line: Optional[int] = None


def line_of(value: Any, default: Optional[int] = None) -> Optional[int]:
    return getattr(value, "line", None) or default


def _located_decoder(text: str) -> json.JSONDecoder:
    newlines = [i for i, char in enumerate(text) if char == "\n"]
    decoder = json.JSONDecoder()

    def line(position: int) -> int:
        return bisect.bisect_right(newlines, position) + 1

    def parse_object(s_and_end, strict, scan_once, object_hook, object_pairs_hook, memo=None):
        pairs, end = json.decoder.JSONObject(s_and_end, strict, scan_once, object_hook, object_pairs_hook, memo)
        located = JsonObject(pairs)
        located.line = line(s_and_end[1] - 1)   # the offset is just past the opening brace
        return located, end

    def parse_array(s_and_end, scan_once):
        values, end = json.decoder.JSONArray(s_and_end, scan_once)
        located = JsonArray(values)
        located.line = line(s_and_end[1] - 1)
        return located, end

    decoder.parse_object = parse_object
    decoder.parse_array = parse_array
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    return decoder


def load_json(path: str, what: str = "JSON file") -> Any:
    """Parse a whole-file JSON document; objects and arrays carry ``.line``.

    A missing or empty file, bad UTF-8 and malformed JSON raise UserInputError with the line.
    """
    require_file(path, what)
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UserInputError(f"not valid UTF-8 ({error.reason})", path=path,
                             line=raw.count(b"\n", 0, error.start) + 1) from None
    if not text.strip():
        raise UserInputError(f"the {what} is empty", path=path)
    try:
        return _located_decoder(text).decode(text)
    except json.JSONDecodeError as error:
        raise UserInputError(f"malformed JSON: {error.msg} (column {error.colno})", path=path,
                             line=error.lineno) from None


def iter_json_lines(path: str, what: str = "JSON lines file") -> Iterator[Tuple[int, Any]]:
    """``(line_number, value)`` of a file holding one JSON value per line; blank lines are skipped,
    a file without any value is an error."""
    found = False
    for line_no, text in iter_lines(path, what):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise UserInputError(f"malformed JSON: {error.msg} (column {error.colno}); expected one JSON "
                                 f"object per line", path=path, line=line_no) from None
        found = True
        yield line_no, value
    if not found:
        raise UserInputError(f"the {what} is empty", path=path)


_KIND_NAMES = {dict: "an object", list: "an array", str: "a string", int: "an integer"}
Kind = Union[Type, Tuple[Type, ...]]


def _kind_name(kind: Kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)


def expect(value: Any, kind: Kind, what: str, path: str, line: Optional[int]) -> Any:
    """``value`` if it is of ``kind`` (booleans are not integers), else a UserInputError."""
    if isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool):
        return value
    raise UserInputError(f"{what} must be {_kind_name(kind)}, got {type(value).__name__} {str(value)[:40]!r}",
                         path=path, line=line)


def field(obj: Any, key: str, kind: Kind, path: str, line: Optional[int] = None, where: str = "",
          default: Any = ...) -> Any:
    """``obj[key]`` checked against ``kind``; a missing key raises unless ``default`` is given.

    ``where`` describes the object in messages (e.g. ``"question 'Q7'"``); the line is the
    object's own when it was parsed by :func:`load_json`, else ``line``.
    """
    line = line_of(obj, line)
    expect(obj, dict, where or "this item", path, line)
    if key not in obj:
        if default is not ...:
            return default
        raise UserInputError(f"{where or 'the object'} has no '{key}' field (expected {_kind_name(kind)})",
                             path=path, line=line)
    return expect(obj[key], kind, f"'{key}'" + (f" of {where}" if where else ""), path, line_of(obj[key], line))


def strings(values: Any, what: str, path: str, line: Optional[int]) -> List[str]:
    """A JSON array of strings."""
    values = expect(values, list, what, path, line)
    for value in values:
        expect(value, str, f"every item of {what}", path, line_of(values, line))
    return list(values)
