"""One training run per weights folder: a second run into the same folder refuses to start.

The lock is an advisory ``flock`` on ``FOLDER/.train.lock``, held for the whole run. The operating
system releases it when the process ends in any way (a crash, ``kill -9``), so a dead run never
leaves the folder locked; the file itself only says who holds it, for the message.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

LOCK_NAME = ".train.lock"


class FolderInUse(RuntimeError):
    """Another live run holds the folder."""


class RunLock:
    """Hold the lock of every folder a run writes into (``with RunLock([weights, results]):``)."""

    def __init__(self, folders):
        self.folders = list(dict.fromkeys(Path(f).resolve() for f in folders))
        self._handles: list = []

    def __enter__(self) -> "RunLock":
        try:
            for folder in self.folders:
                folder.mkdir(parents=True, exist_ok=True)
                handle = open(folder / LOCK_NAME, "a+")
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.seek(0)
                    holder = _describe(handle.read())
                    handle.close()
                    raise FolderInUse(f"{folder}: another training run is writing here ({holder}); wait for it "
                                      f"to finish or pass another --weights-dir / --results-dir / --tensorboard") from None
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                         "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                                         "command": " ".join(sys.argv)}))
                handle.flush()
                self._handles.append(handle)
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        for handle in self._handles:
            try:
                fcntl.flock(handle, fcntl.LOCK_UN)
            finally:
                handle.close()
        self._handles = []


def _describe(text: str) -> str:
    try:
        info = json.loads(text)
        return f"pid {info['pid']} on {info['host']}, started {info['started']}: {info['command']}"
    except (ValueError, KeyError, TypeError, RecursionError):
        return "a process that is still running"
