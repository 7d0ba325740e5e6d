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


class OutputLocationError(ValueError):
    """A folder a run will write into that cannot take its files; found before any work starts."""


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size < 1e9 else f"{size / 1e9:.2f} GB"


def check_output_folder(folder: Path | str, needed_bytes: int = 0, what: str = "") -> Path:
    """Create ``folder`` if needed and check that a file can be written there and that ``needed_bytes`` fit.

    Raises :class:`OutputLocationError` with one line naming the folder and the cause (not a folder,
    read-only, no permission, not enough free space). ``what`` says what the space is for.
    """
    import errno
    import shutil

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputLocationError(f"{folder}: exists and is not a folder") from None
    except OSError as error:
        reason = "a part of the path is a file" if error.errno == errno.ENOTDIR else error.strerror
        raise OutputLocationError(f"{folder}: cannot be created ({reason})") from None
    if not folder.is_dir():
        raise OutputLocationError(f"{folder}: exists and is not a folder")
    try:
        handle, probe = tempfile.mkstemp(prefix=".write-check.", suffix=".tmp", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise OutputLocationError(f"{folder}: cannot be written ({error.strerror})") from None
    free = shutil.disk_usage(folder).free
    if needed_bytes and free < needed_bytes:
        purpose = f" for {what}" if what else ""
        raise OutputLocationError(f"{folder}: {_megabytes(free)} free, about {_megabytes(needed_bytes)} needed"
                                  f"{purpose}; free some space or choose another folder")
    return folder


def describe_write_error(error: OSError) -> str:
    """One line for a failed write: the file it was for and the system's reason (e.g. 'No space left on device')."""
    target = error.filename if error.filename is not None else "a file"
    reason = error.strerror or type(error).__name__
    return f"{target}: cannot be written ({reason})"
