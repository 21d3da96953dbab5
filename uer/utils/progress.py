"""A small progress bar for long file passes: percent, MB/s, lines and ETA on stderr.

On a terminal the bar redraws in place a few times a second; in a log file (not a TTY) it
writes a plain line every ``log_interval`` seconds, so logs stay readable.
"""
import sys
import time
from typing import IO, Optional


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ProgressBar:
    """Tracks ``done`` out of ``total`` bytes (and a line count) and draws it on ``stream``."""

    def __init__(self, total: int, desc: str = "", stream: Optional[IO[str]] = None,
                 enabled: bool = True, log_interval: float = 30.0):
        self.total = max(1, int(total))
        self.desc = desc
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = 0.2 if self.tty else log_interval
        self.start = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False
        self.done = 0
        self.lines = 0

    def update(self, done: int, lines: int = 0, force: bool = False) -> None:
        """Set the absolute progress (bytes done, lines done); redraw if it is time to."""
        self.done, self.lines = int(done), int(lines)
        now = time.monotonic()
        if self.enabled and (force or now - self._last_draw >= self.interval):
            self._last_draw = now
            self._draw(now)

    def render(self, now: Optional[float] = None) -> str:
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.start, 1e-6)
        fraction = min(1.0, self.done / self.total)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        width = 24
        filled = int(fraction * width)
        bar = "#" * filled + "-" * (width - filled)
        return (f"{self.desc} {fraction * 100:5.1f}% |{bar}| {self.done / 1e6:.1f}/{self.total / 1e6:.1f} MB "
                f"{self.lines:,} lines {rate / 1e6:.1f} MB/s ETA {_clock(eta)}")

    def _draw(self, now: float) -> None:
        if self.tty:
            self.stream.write("\r" + self.render(now) + "\x1b[K")
        else:
            self.stream.write(self.render(now) + "\n")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Draw the final state (elapsed time instead of ETA) and end the line."""
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.start
        line = self.render().rsplit(" ETA ", 1)[0] + f" in {_clock(elapsed)}"
        self.stream.write(("\r" + line + "\x1b[K\n") if self.tty else line + "\n")
        self.stream.flush()
