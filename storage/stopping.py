"""Ctrl-C and SIGTERM as exceptions, so that a command stops between two statements and says where it stopped.

Schedulers (SLURM, Kubernetes, most batch systems) send SIGTERM before they kill a job or preempt it;
Python's default ends the process at once. :func:`terminate_as_exception` turns it into
:class:`Terminated`, which unwinds like ``KeyboardInterrupt``: files being written are abandoned
whole (their temporaries removed), and the training loop reports the last saved epoch.

Every command exits 0 when done, 2 for bad input, options or environment, 130 when interrupted,
143 when terminated, and 1 only for a bug.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Callable, Iterator

#: Exit statuses of a run that was stopped: 128 + the signal's number, as shells report them.
INTERRUPTED_STATUS = 130
TERMINATED_STATUS = 143


class Terminated(BaseException):
    """The process received SIGTERM."""


def stop_status(stop: BaseException) -> int:
    """130 for Ctrl-C, 143 for SIGTERM."""
    return TERMINATED_STATUS if isinstance(stop, Terminated) or getattr(stop, "terminated", False) \
        else INTERRUPTED_STATUS


def stop_cause(stop: BaseException) -> str:
    return "terminated (SIGTERM)" if stop_status(stop) == TERMINATED_STATUS else "interrupted"


@contextlib.contextmanager
def terminate_as_exception() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` and Ctrl-C ``KeyboardInterrupt`` in the main thread.

    Only the first signal raises. A second one that arrived while the first unwinds through torch's
    C++ code would abort the process (``terminate called after throwing ...``) and lose what the
    unwinding saves, so it is only acknowledged; a third ends the process at once.
    """
    received = []

    def on_signal(signum, frame):
        received.append(signum)
        if len(received) == 1:
            raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        if len(received) == 2:
            os.write(2, b"stopping: finishing the file being written (signal again to end at once, losing it)\n")
            return
        os._exit(TERMINATED_STATUS if signum == signal.SIGTERM else INTERRUPTED_STATUS)

    try:
        previous = {number: signal.signal(number, on_signal) for number in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:                              # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run_until_stopped(body: Callable[[], int], kept: str, *, quiet: bool = False) -> int:
    """``body()`` under :func:`terminate_as_exception`; a stop prints ``CAUSE: kept`` as one line, exits 130/143.

    An exception that carries its own message (``str(stop)``, e.g. the training loop's) is printed instead.
    The project's warnings are said in its voice (:func:`storage.notices.project_voice`: one line per cause).
    ``quiet``: print nothing (another process speaks for the run). Output whose reader has gone is dropped
    quietly and the work goes on (:func:`storage.output.output_may_close`).
    """
    from .notices import project_voice
    from .output import output_may_close

    with output_may_close():                        # a reader that goes away (`| head`) ends the output only
        try:
            with terminate_as_exception(), project_voice(quiet=quiet):
                return body()
        except (KeyboardInterrupt, Terminated) as stop:
            if not quiet:
                print(str(stop) or f"{stop_cause(stop)}: {kept}", file=sys.stderr)
            return stop_status(stop)
