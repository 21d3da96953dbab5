"""Ctrl-C during training: finish the current step, save a resumable state, then stop cleanly.

A KeyboardInterrupt raised at an arbitrary bytecode could land between ``optimizer.step()`` and
``scheduler.step()`` and leave nothing consistent to save. :class:`InterruptRequest` turns the
first SIGINT into a flag that the training loops read at step boundaries; they save their state
and raise :class:`TrainingInterrupted`, which ``cli_main`` reports without a traceback (exit 130,
the shell's code for SIGINT). A second Ctrl-C interrupts at once, as usual.
"""
import logging
import signal
import threading
from typing import Any, Optional

import torch

logger = logging.getLogger(__name__)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on Ctrl-C after saving a resumable state; the message says how to resume."""


class InterruptRequest:
    """``with InterruptRequest() as interrupt:`` ... ``interrupt.requested`` turns true on Ctrl-C.

    Outside the main thread (where signal handlers cannot be set) it does nothing.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Optional[Any] = None
        self._installed = False

    def __enter__(self) -> "InterruptRequest":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc_info: Any) -> bool:
        self._restore()
        return False

    def _restore(self) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous if self._previous is not None else signal.default_int_handler)
            self._installed = False

    def agreed(self, step: int, every: int, ctx: Any) -> bool:
        """Whether to stop at ``step``: as soon as requested in one process; with several, the ranks
        compare notes every ``every`` steps (one tiny all-reduce) so that all stop at the same step."""
        if not ctx.distributed:
            return self.requested
        return step % every == 0 and agreed_stop(self.requested, ctx)

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        self._restore()  # a second Ctrl-C raises KeyboardInterrupt at once
        logger.warning("interrupted: saving a resumable state at the end of this step (Ctrl-C again to stop now)")


def agreed_stop(requested: bool, ctx: Any) -> bool:
    """True on every rank when any rank was interrupted (one tiny all-reduce when distributed)."""
    if not ctx.distributed:
        return requested
    from uer.training.runtime import all_reduce_sum

    flag = torch.tensor([1.0 if requested else 0.0], device=ctx.device)
    return bool(all_reduce_sum(flag, ctx).item() > 0)
