"""Warnings in the project's voice: one line ``warning: ...`` on stderr per cause and run.

The project's warning categories (``evaluation.UndefinedCorrelationWarning``,
``storage.checkpoints.ProgressWarning``, ``video.io.PartialVideoWarning``, ``dataset.DatasetNotice``, ...)
say what happened, to which file or video, and what it means. Under :func:`project_voice`, which every
command runs its work in (:func:`storage.stopping.run_until_stopped` enters it), they reach the user
without Python's format (``.../protocol.py:146: UndefinedCorrelationWarning: ...`` and the source line):

* a category that declares a ``cause`` (the same words for every repeat, e.g. ``tau/rho undefined``) and a
  ``meaning`` (what the run did about it; an instance may say its own) is counted over the videos it
  concerns, named by :func:`concerning` where they are scored, and said once when the command ends:
  ``warning: tau/rho undefined (constant scores or reference) for 12 videos (a.h5 video_3, ...); counted as 0``;
* any other warning of the project is said when it first happens, and not again in the run.

Warnings of other libraries keep Python's format and filters. Torch-free, like ``storage.files``.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
import warnings
from pathlib import Path
from typing import Iterator

#: At most this many videos are named in a counted line; the rest are counted.
NAMED = 3

_SUBJECT: contextvars.ContextVar[str | None] = contextvars.ContextVar("notice_subject", default=None)


@contextlib.contextmanager
def concerning(subject: str | None) -> Iterator[None]:
    """Within the block, a counted warning concerns ``subject`` (e.g. ``summe.h5 video_3``)."""
    token = _SUBJECT.set(subject)
    try:
        yield
    finally:
        _SUBJECT.reset(token)


def video_subject(video) -> str | None:
    """How a counted line names a video: its file's name and its key (``summe.h5 video_3``)."""
    key = getattr(video, "key", None)
    if key is None:
        return None
    path = getattr(video, "path", None)
    return f"{Path(path).name} {key}" if path else str(key)


def _project_names() -> frozenset[str]:
    root = Path(__file__).resolve().parents[1]
    return frozenset(path.stem for path in root.iterdir()
                     if (path.suffix == ".py" or (path / "__init__.py").is_file()) and not path.name.startswith("."))


PROJECT_NAMES = _project_names()


def is_project_category(category: type) -> bool:
    """A warning category declared by one of the project's modules."""
    return category.__module__.split(".")[0] in PROJECT_NAMES


def _project_categories(base: type = Warning) -> list[type]:
    found, pending = [], list(base.__subclasses__())
    while pending:
        category = pending.pop()
        pending.extend(category.__subclasses__())
        if is_project_category(category):
            found.append(category)
    return found


class Notices:
    """What a run has been warned of: :meth:`add` returns a line to say now (or None); :meth:`summary` the
    counted lines, once, at the end."""

    def __init__(self):
        self._said: set[str] = set()
        self._counted: dict[tuple[str, str], dict] = {}
        self._lock = threading.Lock()

    def add(self, message, subject: str | None = None) -> str | None:
        text = " ".join(str(message).split())
        cause = getattr(message, "cause", None)
        with self._lock:
            if cause:
                meaning = getattr(message, "meaning", "") or ""
                entry = self._counted.setdefault((cause, meaning), {"subjects": {}, "elsewhere": False})
                if subject is None:
                    entry["elsewhere"] = True
                else:
                    entry["subjects"].setdefault(subject, None)
                return None
            if text in self._said:
                return None
            self._said.add(text)
        return f"warning: {text}"

    def summary(self) -> list[str]:
        """One line per counted cause; each cause is said once (a second call returns only new ones)."""
        with self._lock:
            counted, self._counted = self._counted, {}
        lines = []
        for (cause, meaning), entry in counted.items():
            subjects, elsewhere = list(entry["subjects"]), entry["elsewhere"]
            if len(subjects) == 1 and not elsewhere:
                what = f"{subjects[0]}: {cause}"
            elif subjects:
                named = ", ".join(subjects[:NAMED]) + (f" and {len(subjects) - NAMED} more" if len(subjects) > NAMED
                                                       else "")
                what = f"{cause} for {len(subjects)} videos ({named})" + (" and elsewhere" if elsewhere else "")
            else:
                what = cause
            lines.append(f"warning: {what}" + (f"; {meaning}" if meaning else ""))
        return lines


def _say(line: str) -> None:
    tqdm = sys.modules.get("tqdm")                  # between progress bars, without breaking them
    if tqdm is not None and hasattr(tqdm, "tqdm"):
        tqdm.tqdm.write(line, file=sys.stderr)
    else:
        print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def project_voice(*, quiet: bool = False) -> Iterator[Notices]:
    """Within the block, the project's warnings are said in its voice (see the module's text); ``quiet``: not
    at all (another process speaks for the run). The counted lines are said when the block ends."""
    notices = Notices()
    with warnings.catch_warnings():
        previous = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if not is_project_category(category):
                # Python's own route when showwarning was not replaced before: _showwarnmsg_impl, which also
                # records the warning where catch_warnings(record=True) is active (pytest.warns, for one).
                if previous is getattr(warnings, "_showwarning_orig", None) and hasattr(warnings, "_showwarnmsg_impl"):
                    warnings._showwarnmsg_impl(warnings.WarningMessage(message, category, filename, lineno, file,
                                                                       line))
                else:
                    previous(message, category, filename, lineno, file, line)
                return
            said = notices.add(message, _SUBJECT.get())
            if said and not quiet:
                _say(said)

        for category in _project_categories():      # every repeat reaches the count (earlier filters still apply)
            warnings.filterwarnings("always", category=category, append=True)
        warnings.showwarning = show
        try:
            yield notices
        finally:
            if not quiet:
                for line in notices.summary():
                    _say(line)
