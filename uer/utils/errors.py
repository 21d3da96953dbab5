"""User-facing errors: a bad file or flag stops the command with a clear message, not a traceback."""
import functools
import logging
import sys
from typing import Callable, Optional


class UserInputError(Exception):
    """A mistake in the user's input (file, line, flag), reported without a traceback."""

    def __init__(self, message: str, path: Optional[str] = None, line: Optional[int] = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line


INTERRUPTED_EXIT = 130  # 128 + SIGINT, what shells report for a command stopped by Ctrl-C


def cli_main(main: Callable[..., None]) -> Callable[..., None]:
    """Decorate a script's ``main``: UserInputError -> message on stderr, exit status 2; Ctrl-C ->
    one line (what was saved, when the training loop saved a state), exit status 130."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserInputError as error:
            logging.getLogger("uer").debug("user input error", exc_info=True)
            sys.stderr.write(f"error: {error}\n")
            sys.exit(2)
        except KeyboardInterrupt as error:
            logging.getLogger("uer").debug("interrupted", exc_info=True)
            sys.stderr.write(f"{str(error) or 'interrupted (Ctrl-C)'}\n")
            sys.exit(INTERRUPTED_EXIT)

    return wrapper
