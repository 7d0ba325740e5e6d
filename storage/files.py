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


def json_text(data: Any) -> str:
    """How every JSON file of the project is written: indented by 2, ending in a newline."""
    return json.dumps(data, indent=2) + "\n"


def write_json_atomically(path: Path | str, data: Any, *, create_folders: bool = True) -> None:
    write_atomically(path, lambda file: file.write(json_text(data)), mode="w", create_folders=create_folders)


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


def write_figure_png(figure, path: Path | str, text: dict[str, str] | None = None) -> None:
    """A matplotlib figure as a PNG, written atomically, with ``text`` as PNG text chunks. A character the
    font lacks (in a file name in a title) is drawn as a box without matplotlib's warning on every figure."""
    import warnings

    def save(file) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Glyph .* missing from")
            figure.savefig(file, format="png", metadata=dict(text or {}))

    write_atomically(Path(path), save)


def png_text(path: Path | str, key: str) -> str | None:
    """The text chunk ``key`` of the PNG at ``path`` (see :func:`write_figure_png`); None when the file is
    missing, not a PNG, or has no such chunk."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return getattr(image, "text", {}).get(key)
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def file_url(name: str) -> str:
    """A relative path as a URL, percent-encoded from its bytes on disk: a name that is not UTF-8 still links."""
    from urllib.parse import quote

    return quote(os.fsencode(name))


def relative_url(target: Path | str, page: Path | str) -> str:
    """``target`` as a URL relative to the folder of ``page`` (percent-encoded, forward slashes).

    Computed on the paths as given, not with symbolic links resolved: a browser resolves ``..`` in the
    URL of the page it opened, so a page written through a linked folder links right from there.
    """
    target, folder = os.path.abspath(target), os.path.dirname(os.path.abspath(page))
    try:
        relative = os.path.relpath(target, folder)
    except ValueError:                                  # another drive (Windows): an absolute file URL
        return Path(target).as_uri()
    return file_url(relative.replace(os.sep, "/"))


def generator_meta(tool: str) -> str:
    """The ``<meta>`` line that marks a page as written by ``tool`` (``summarize.py``, ``inference.py``)."""
    return f'<meta name="generator" content="CSTA {tool}">'


#: The pages of the releases before :func:`generator_meta` (5abfe37 to 41c564b) are known by their head: the
#: SHA-256 of its bytes up to ``</head>``, with the ``<title>``'s text left out (it names the video). Each tool
#: wrote two heads over those releases (its style sheet changed once).
EARLIER_PAGE_HEADS = {
    "inference.py": frozenset({"1851c284168f4095a4fd2597832e7378c7d84892fc4d785c158724c7f5eaa9ae",
                               "45798643bd1ea5638a7a928a6e48954f04a4b9e6808f7e92baa6cae6d9129cd4"}),
    "summarize.py": frozenset({"3faae709c9ea614b401fdc6bba3f410c00ee40e0fb8a0e6c041492bda04939d3",
                               "4fcd200f24ae550362ad22b8feb3bc8c2a7a1c9862501ab19401133ddd0f9835"}),
}

#: How much of a page is read to find its mark or its earlier head (the head and a long title fit).
_PAGE_HEAD_BYTES = 65536


def earlier_page_head(start: bytes) -> str | None:
    """The digest :data:`EARLIER_PAGE_HEADS` knows a page by, from the page's first bytes ``start``."""
    import hashlib
    import re

    end = start.find(b"</head>")
    if not start.startswith(b"<!DOCTYPE html>") or end < 0:
        return None
    head = re.sub(rb"<title>[^<]*</title>", b"<title></title>", start[:end], count=1)
    return hashlib.sha256(head).hexdigest()


def page_written_by(path: Path | str, tool: str) -> bool:
    """Whether the page at ``path`` was written by ``tool``: it carries :func:`generator_meta` in its head, or
    the head of an earlier release's page (:data:`EARLIER_PAGE_HEADS`); a page the tool may replace. A page of
    anything else (a user's own ``index.html``) is left as it is."""
    try:
        with open(path, "rb") as file:
            start = file.read(_PAGE_HEAD_BYTES)
    except OSError:
        return False
    head = start[:start.find(b"</head>")] if b"</head>" in start else start[:4096]
    return generator_meta(tool).encode() in head or earlier_page_head(start) in EARLIER_PAGE_HEADS.get(tool, ())


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


def check_output_set(out: Path | str, targets, inputs=()) -> None:
    """A set of files ``--out OUT`` will write (``targets``): none is a folder or one of ``inputs``, and the
    folder takes files. Raises :class:`OutputLocationError` naming ``--out OUT`` and the file."""
    readable = {Path(path).resolve(): path for path in inputs}
    for target in map(Path, targets):
        if target.resolve() in readable:
            raise OutputLocationError(f"--out {out}: refusing to write {target}: that is an input file")
        if target.is_dir():
            raise OutputLocationError(f"--out {out}: {target} is a folder")
    try:
        check_output_folder(Path(out).parent)
    except OutputLocationError as error:
        raise OutputLocationError(f"--out {out}: {error}") from None


def describe_write_error(error: OSError) -> str:
    """One line for a failed write: the file it was for and the system's reason (e.g. 'No space left on device')."""
    target = error.filename if error.filename is not None else "a file"
    reason = error.strerror or type(error).__name__
    return f"{target}: cannot be written ({reason})"


class InputFileError(ValueError):
    """An input that is missing, not a regular file, too large or unreadable; one line naming it."""


#: Far above any real scores file, split file, record or description (TVSum's scores JSON is about 1 MB).
TEXT_INPUT_LIMIT = 256 * 2**20


def check_input_file(path: Path | str, what: str) -> Path:
    """``path`` names an existing regular file (symbolic links followed).

    A folder, a device such as ``/dev/zero`` or a pipe is refused before it is opened: reading one
    would never end or would fill memory.
    """
    import stat

    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputFileError(f"{path}: {what} not found") from None
    except (OSError, ValueError) as error:                 # a name too long, a NUL byte, a loop of links
        reason = getattr(error, "strerror", None) or str(error)
        raise InputFileError(f"{path}: {what} cannot be opened ({reason})") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputFileError(f"{path}: is a folder, not a {what}")
    if not stat.S_ISREG(info.st_mode):
        raise InputFileError(f"{path}: is not a regular file (a device, pipe or socket), not a {what}")
    return path


def read_input_bytes(path: Path | str, what: str, limit: int = TEXT_INPUT_LIMIT) -> bytes:
    """The whole of a small input file, refused with one line when it is not a regular file or exceeds ``limit``."""
    path = check_input_file(path, what)
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > limit:
                raise InputFileError(f"{path}: {_megabytes(size)}, more than a {what} can be ({_megabytes(limit)})")
            data = file.read(min(size, limit) + 1)      # not a buffer of ``limit`` (under ulimit -v, too much)
            if len(data) > size:                        # grown since: read on, to the limit
                data += file.read(limit + 1 - len(data))
    except OSError as error:
        raise InputFileError(f"{path}: {what} cannot be read ({error.strerror or error})") from None
    if len(data) > limit:
        raise InputFileError(f"{path}: more than a {what} can be ({_megabytes(limit)})")
    return data


def read_input_text(path: Path | str, what: str, limit: int = TEXT_INPUT_LIMIT) -> str:
    """:func:`read_input_bytes` decoded as UTF-8, refused with the offending byte's position otherwise."""
    data = read_input_bytes(path, what, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputFileError(f"{path}: {what} is not UTF-8 text (byte {error.start})") from None


def is_same_file(first: Path | str, second: Path | str) -> bool:
    """Whether two paths name one existing file (through links, ``..`` and hard links alike)."""
    try:
        return os.path.samefile(first, second)
    except (OSError, ValueError):
        return False


def refuse_overwriting_inputs(option: str, out: Path | str, inputs: dict[str, Path | str]) -> None:
    """Refuse an output path that names one of the run's inputs (``{what: path}``): writing it would destroy it."""
    for what, path in inputs.items():
        if path is not None and is_same_file(out, path):
            raise OutputLocationError(f"{option}: {out} is the {what} this command reads ({path}); "
                                      f"writing the results there would replace it; choose another file")
