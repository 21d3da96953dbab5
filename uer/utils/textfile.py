"""Reading user text files line by line with precise errors, and writing outputs atomically."""
import contextlib
import hashlib
import os
from typing import IO, Iterator, Tuple

from uer.utils.errors import UserInputError


def require_file(path: str, what: str = "input file") -> None:
    """Raise a UserInputError unless ``path`` is an existing regular file."""
    if not os.path.isfile(path):
        raise UserInputError(f"{what} not found", path=path)


def decode_line(raw: bytes, path: str, line_no: int) -> str:
    """Decode one line of UTF-8; a bad byte is the user's data error, reported as file:line."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserInputError(
            f"not valid UTF-8 (byte {error.start} of the line: {raw[error.start:error.start + 4]!r})",
            path=path,
            line=line_no,
        ) from None


def iter_lines(path: str, what: str = "input file") -> Iterator[Tuple[int, str]]:
    """Yield ``(line_number, text)`` (1-based, newline and a leading BOM removed) of a UTF-8 file.

    ``\\r\\n`` endings are accepted; the line content is otherwise untouched.
    """
    require_file(path, what)
    with open(path, "rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            text = decode_line(raw, path, line_no)
            if line_no == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield line_no, text.rstrip("\n").rstrip("\r")


@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds.

    Readers therefore never see a half-written output, and a crash leaves the old file intact.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp_path = f"{path}.tmp.{os.getpid()}"
    encoding = None if "b" in mode else "utf-8"
    newline = None if "b" in mode else "\n"
    try:
        with open(tmp_path, mode, encoding=encoding, newline=newline) as handle:
            yield handle
        os.replace(tmp_path, path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


def file_sha256(path: str, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()
