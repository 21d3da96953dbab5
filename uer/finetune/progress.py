"""A per-epoch progress bar on stderr (batches, examples/s, running loss); silent when stderr is
not a terminal, where the epoch summary line of the trainer says the same once."""
import sys
import time
from typing import IO, Optional


class EpochProgress:
    def __init__(self, total: int, desc: str, enabled: bool = True, stream: Optional[IO[str]] = None):
        self.total = max(1, total)
        self.desc = desc
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self.last_draw = 0.0
        self.steps = 0
        self.examples = 0

    def update(self, examples: int, loss: Optional[float] = None) -> None:
        self.steps += 1
        self.examples += examples
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last_draw < 0.2 and self.steps < self.total:
            return
        self.last_draw = now
        elapsed = max(now - self.start, 1e-6)
        width = 24
        filled = int(width * min(1.0, self.steps / self.total))
        remaining = elapsed / self.steps * (self.total - self.steps)
        text = (f"\r{self.desc} |{'#' * filled}{'-' * (width - filled)}| {self.steps}/{self.total} "
                f"{self.examples / elapsed:.0f} ex/s, {elapsed:.0f}s<{remaining:.0f}s")
        if loss is not None:
            text += f", loss {loss:.4f}"
        self.stream.write(text + "\x1b[K")
        self.stream.flush()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
