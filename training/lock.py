"""Runs that share folders: a split's files are locked, so that runs of different splits write into the same
weights, results and TensorBoard folders at once while a second run of the same split refuses to start.

Every lock is an advisory ``flock``, held for the run's whole life, which the operating system releases when
the process ends in any way (a crash, ``kill -9``), so a dead run never leaves anything locked. In each folder
a run writes into:

* ``.train.{dataset}.split{k}.lock``, held exclusively for each split the run trains (the split's checkpoint,
  record, progress file, log, curves and TensorBoard run); its content says who holds it, for the message;
* ``.train.lock``, held shared by every run: a run of an earlier release, which holds it exclusively for the
  whole folder, and the runs of this one keep each other out;
* ``.train.summary.lock`` (:func:`summary_lock`), held exclusively for the moment a run merges its splits into
  the folder's summaries.

Lock files are made as writable as their folder (a group-writable folder gets group-writable lock files,
whatever the umask), and a lock file that another user left read-only is locked through a read-only handle:
the lock, not the permission to write the file, decides.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import stat
import sys
import time
from pathlib import Path
from typing import Iterator

LOCK_NAME = ".train.lock"
SUMMARY_LOCK_NAME = ".train.summary.lock"


def split_lock_name(dataset: str, split: int) -> str:
    """The lock file of one split in a folder: ``.train.{dataset}.split{k}.lock``."""
    return f".train.{dataset}.split{split}.lock"


class LockError(RuntimeError):
    """A lock file that cannot be locked (a file system without ``flock``, a file of another user that cannot
    be read); the message names the file and the remedy."""


class FolderInUse(LockError):
    """Another live run holds a lock this run needs."""


class RunLock:
    """Hold the locks of a run: ``with RunLock(folders, splits):``, ``folders`` the folders it writes into,
    ``splits`` the ``(folder, dataset, split)`` whose files it writes."""

    def __init__(self, folders, splits=()):
        self.folders = list(dict.fromkeys(Path(f).resolve() for f in folders))
        self.splits = list(dict.fromkeys((Path(f).resolve(), d, k) for f, d, k in splits))
        self._held: list[int] = []

    def __enter__(self) -> "RunLock":
        try:
            for folder in dict.fromkeys([*self.folders, *(f for f, _, _ in self.splits)]):
                folder.mkdir(parents=True, exist_ok=True)
                try:
                    self._held += _lock(folder / LOCK_NAME, exclusive=False, blocking=False)
                except BlockingIOError as busy:
                    raise FolderInUse(f"{folder}: another training run is writing here (a run of an earlier "
                                      f"release, which locks the whole folder: {_describe(busy.strerror)}); wait for "
                                      f"it to finish or pass another --weights-dir / --results-dir / "
                                      f"--tensorboard") from None
            for folder, dataset, split in self.splits:
                try:
                    self._held += _lock(folder / split_lock_name(dataset, split), exclusive=True, blocking=False)
                except BlockingIOError as busy:
                    raise FolderInUse(f"{folder}: another training run is writing here ({dataset} split {split}: "
                                      f"{_describe(busy.strerror)}); wait for it to finish, or train other --splits "
                                      f"or into another --weights-dir / --results-dir / --tensorboard") from None
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        for handle in reversed(self._held):
            try:
                fcntl.flock(handle, fcntl.LOCK_UN)
            finally:
                os.close(handle)
        self._held = []


@contextlib.contextmanager
def summary_lock(folder: Path | str) -> Iterator[None]:
    """Held while a run reads, merges and writes a folder's summaries (a moment): runs that end together into one
    folder take turns. A folder where no lock can be taken gets its summaries without one, with a warning."""
    path = Path(folder) / SUMMARY_LOCK_NAME
    try:
        held = _lock(path, exclusive=True, blocking=True)
    except (LockError, OSError) as error:
        print(f"warning: {error if isinstance(error, LockError) else _unlockable(path, error)}; the summaries "
              f"are written without it", file=sys.stderr)
        held = []
    try:
        yield
    finally:
        for handle in reversed(held):
            try:
                fcntl.flock(handle, fcntl.LOCK_UN)
            finally:
                os.close(handle)


def _lock(path: Path, *, exclusive: bool, blocking: bool) -> list[int]:
    """Lock ``path`` (made if missing); the handles to keep open while it is held. Raises ``BlockingIOError``
    whose ``strerror`` is the holder's description when another process holds it, :class:`LockError` when it
    cannot be locked."""
    mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if blocking else fcntl.LOCK_NB)
    for _ in range(100):
        handle, writable = _open(path)
        try:
            fcntl.flock(handle, mode)
        except BlockingIOError:
            holder = os.pread(handle, 4096, 0).decode("utf-8", "replace")
            os.close(handle)
            raise BlockingIOError(errno.EWOULDBLOCK, holder) from None
        except OSError as error:
            os.close(handle)
            raise LockError(_unlockable(path, error)) from None
        if _is_at(handle, path):
            break
        os.close(handle)                    # replaced by its holder between the open and the lock: lock the new one
    else:
        raise LockError(f"{path}: replaced again and again while being locked")
    if not exclusive:
        return [handle]
    holder = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                         "started": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(sys.argv)}).encode()
    if writable:
        os.ftruncate(handle, 0)
        os.pwrite(handle, holder, 0)
        return [handle]
    return [handle, *_replace_with_own(path, holder)]


def _open(path: Path) -> tuple[int, bool]:
    """A handle on the lock file, and whether it can be written; a file of another user that this one may not
    write is opened for reading (enough for ``flock`` on a local file system)."""
    try:
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except PermissionError:
        try:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC), False
        except OSError as error:
            raise LockError(_unlockable(path, error)) from None
    _share_like_the_folder(handle, path.parent)
    return handle, True


def _share_like_the_folder(handle: int, folder: Path) -> None:
    """Give the lock file the write permissions its folder gives (the umask aside), so that the other users who
    may write into the folder may lock it too. Only the file's owner may change them."""
    try:
        info = os.fstat(handle)
        if info.st_uid != os.geteuid():
            return
        current = stat.S_IMODE(info.st_mode)
        wanted = current | (stat.S_IMODE(os.stat(folder).st_mode) & 0o066)
        if wanted != current:
            os.fchmod(handle, wanted)
    except OSError:
        pass


def _is_at(handle: int, path: Path) -> bool:
    """Whether the locked file is still the one at ``path``."""
    try:
        here, there = os.fstat(handle), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _replace_with_own(path: Path, holder: bytes) -> list[int]:
    """Holding the lock of a file this user may not write (another user's, made under umask 022): put a file of
    its own, locked and as writable as the folder, in its place, so that the next run of any user finds a lock
    it can take and this run's description. Where the folder does not allow it, the old file alone is held."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        handle = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError:
        return []
    try:
        _share_like_the_folder(handle, path.parent)
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.pwrite(handle, holder, 0)
        os.rename(temporary, path)
    except OSError:
        os.close(handle)
        with contextlib.suppress(OSError):
            temporary.unlink()
        return []
    return [handle]


def _unlockable(path: Path, error: OSError) -> str:
    """Why a lock file cannot be used, and the remedy."""
    reason = error.strerror or str(error)
    try:
        owner = os.stat(path).st_uid
    except OSError:
        owner = os.geteuid()
    if owner != os.geteuid():
        return (f"{path}: cannot be locked ({reason}): it belongs to another user; ask them to make it "
                f"group-writable (chmod g+w) or remove it when no run is using it")
    return f"{path}: cannot be locked ({reason})"


def _describe(text: str) -> str:
    try:
        info = json.loads(text)
        return f"pid {info['pid']} on {info['host']}, started {info['started']}: {info['command']}"
    except (ValueError, KeyError, TypeError, RecursionError):
        return "a process that is still running"
