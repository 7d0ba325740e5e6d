"""A command whose reader goes away (``train.py | head``) stops printing, not working.

Python ignores SIGPIPE and raises ``BrokenPipeError`` at the next write to a pipe nobody reads any more;
unhandled, that ended a training run at its next line of output, after one split, with
``error: cannot be written (Broken pipe)``. Within :func:`output_may_close` (entered by
``storage.stopping.run_until_stopped``, around every command), the first such write sends the stream's
descriptor to ``/dev/null`` instead, as Python's documentation advises (the note on SIGPIPE in the ``signal``
module): the rest of the output is dropped quietly, the work goes on, and the exit status is the work's.
Torch-free.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import Iterator


class _ClosableOutput:
    """A text stream that stops writing, without a word, once its reader has gone."""

    def __init__(self, stream):
        self._stream = stream
        self.reader_gone = False

    def _silence(self) -> None:
        self.reader_gone = True
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, self._stream.fileno())        # what is still buffered goes there too
            finally:
                os.close(null)
        except (AttributeError, OSError, io.UnsupportedOperation):
            pass

    def write(self, text: str) -> int:
        if self.reader_gone:
            return len(text)
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._silence()
            return len(text)

    def flush(self) -> None:
        if self.reader_gone:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._silence()
            with contextlib.suppress(OSError, ValueError):
                self._stream.flush()                        # the buffer, into /dev/null

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


@contextlib.contextmanager
def output_may_close() -> Iterator[None]:
    """Within the block, ``sys.stdout`` and ``sys.stderr`` go quiet once their reader has gone."""
    original = sys.stdout, sys.stderr
    wrapped = _ClosableOutput(sys.stdout), _ClosableOutput(sys.stderr)
    sys.stdout, sys.stderr = wrapped
    try:
        yield
    finally:
        for stream in wrapped:
            stream.flush()
        if sys.stdout is wrapped[0]:
            sys.stdout = original[0]
        if sys.stderr is wrapped[1]:
            sys.stderr = original[1]
