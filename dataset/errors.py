"""The errors and notes of reading a dataset: one line naming the file, the video and the field."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

PathLike = Union[str, Path]


class DatasetError(ValueError):
    """A dataset or split file that cannot be used; names the file, the video and the field."""

    def __init__(self, path: PathLike, problem: str, video: Optional[str] = None,
                 field: Optional[str] = None):
        self.path = Path(path)
        self.video = video
        self.field = field
        self.problem = problem
        where = [str(path)]
        if video is not None:
            where.append(f"video '{video}'")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(one_line(": ".join(where) + ": " + problem))


def one_line(text: str) -> str:
    """Control characters (a newline in an h5 key or a split file's key, say) escaped: a message stays one line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)



class DatasetNotice(UserWarning):
    """Said once per file and cause: a layout the reference code computes on, and what is done with it."""
