"""Files written whole or not at all: a temporary sibling, flushed to disk, then renamed over the target.

An interrupted run never leaves a half-written file and never damages the previous good one. Used for
every result, record and checkpoint the project writes; numpy-free and torch-free.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def _file_mode() -> int:
    """The permissions ``open()`` gives a new file (0o666 less the umask); mkstemp's own are 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(path: Path | str, write: Callable[[Any], None], mode: str = "wb", *,
                     create_folders: bool = True, durable: bool = True) -> None:
    """Write through ``write(file)`` into a temporary sibling, flush it to disk, then rename it over ``path``.

    ``create_folders=False`` makes a missing folder an error (OSError) instead of creating it.
    ``durable=False`` skips the fsync: the file is still whole or absent when the process is killed
    (the page cache outlives the process), but not after a power cut; for files written often.
    """
    path = Path(path)
    try:
        if create_folders:
            path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from None
    try:
        with os.fdopen(handle, mode) as file:
            write(file)
            file.flush()
            if durable:
                os.fsync(file.fileno())
        os.chmod(temporary, _file_mode())
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise OSError(error.errno, error.strerror, str(path)) from None     # name the target, not the temporary
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json_atomically(path: Path | str, data: Any, *, create_folders: bool = True) -> None:
    def write(file) -> None:
        json.dump(data, file, indent=2)
        file.write("\n")

    write_atomically(path, write, mode="w", create_folders=create_folders)


def replace_together(writers: dict[Path | str, Callable[[Any], None]], mode: str = "wb", *,
                     create_folders: bool = True) -> None:
    """Write every file of a set into temporaries first, then rename them over their targets in order.

    Files that belong together (an h5 with its splits and description, a checkpoint with its record)
    are replaced as a set: when any write fails (ENOSPC, EROFS, EIO, an exception in a writer), every
    temporary is removed and every previous file is left exactly as it was. The renames come last and
    in the order given, so a reader that checks the last file (a record naming a hash of the others)
    never takes a half-replaced set for a complete one.
    """
    staged: list[tuple[Path, str]] = []
    try:
        for target, write in writers.items():
            target = Path(target)
            try:
                if create_folders:
                    target.parent.mkdir(parents=True, exist_ok=True)
                handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            except OSError as error:
                raise OSError(error.errno, error.strerror, str(target)) from None
            staged.append((target, temporary))
            try:
                with os.fdopen(handle, mode) as file:
                    write(file)
                    file.flush()
                    os.fsync(file.fileno())
                os.chmod(temporary, _file_mode())
            except OSError as error:
                raise OSError(error.errno, error.strerror, str(target)) from None
        for target, temporary in staged:
            try:
                os.replace(temporary, target)
            except OSError as error:
                raise OSError(error.errno, error.strerror, str(target)) from None
    except BaseException:
        for _, temporary in staged:
            Path(temporary).unlink(missing_ok=True)
        raise
