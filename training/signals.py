"""Ctrl-C and SIGTERM as exceptions, so that a run stops between two statements and says where it stopped.

Schedulers (SLURM, Kubernetes, most batch systems) send SIGTERM before they kill a job or preempt it;
Python's default ends the process at once. :func:`terminate_as_exception` turns it into
:class:`Terminated`, which unwinds like ``KeyboardInterrupt``: files being written are abandoned
whole (their temporaries removed), and the training loop reports the last saved epoch.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Iterator

#: Exit statuses of a run that was stopped: 128 + the signal's number, as shells report them.
INTERRUPTED_STATUS = 130
TERMINATED_STATUS = 143


class Terminated(BaseException):
    """The process received SIGTERM."""


def stop_status(stop: BaseException) -> int:
    """130 for Ctrl-C, 143 for SIGTERM."""
    return TERMINATED_STATUS if isinstance(stop, Terminated) or getattr(stop, "terminated", False) \
        else INTERRUPTED_STATUS


@contextlib.contextmanager
def terminate_as_exception() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread (elsewhere: unchanged)."""
    def raise_terminated(signum, frame):
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, raise_terminated)
    except ValueError:                              # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
