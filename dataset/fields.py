"""Reading one video group's fields: links, dtypes, shapes and whole or finite numbers, each failure one line."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Optional, Sequence

import h5py
import numpy as np

from .errors import DatasetError


class _ShapeOnly:
    """Stands for an array that is checked by shape only (features left on disk)."""

    def __init__(self, shape: tuple):
        self.shape = shape
        self.ndim = len(shape)

#: The largest feature magnitude accepted. Far above any real CNN feature; near float32's limit the model's
#: products overflow and training would report a non-finite loss for the wrong video.
FEATURE_MAGNITUDE_LIMIT = 1e6


def _float32(values: np.ndarray) -> np.ndarray:
    """float32 as the model and the protocol compute; values beyond its range become infinite (and are refused)."""
    with np.errstate(over="ignore"):
        return values.astype(np.float32, copy=False)


def encodable(text: str) -> bool:
    """False for text with lone surrogates (from a JSON escape like \\ud800), which no file or h5 key can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def preview(keys: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (", ..." if len(keys) > limit else "")


def _follow_link(group: h5py.Group, name: str, error):
    """``group[name]``; an external link (data in another file) and a soft link to nothing are refused."""
    link = group.get(name, getlink=True)
    if isinstance(link, h5py.ExternalLink):
        raise error(f"is an external link to {link.filename}:{link.path}; only data stored in the file itself "
                    f"is read")
    try:
        return group[name]
    except (KeyError, OSError):
        target = f" to {link.path}" if isinstance(link, h5py.SoftLink) else ""
        raise error(f"is a link{target} that leads nowhere (a damaged or partly copied file)") from None


class FieldReader:
    """Reads and checks the fields of one video group."""

    def __init__(self, group: h5py.Group, path: Path, key: str):
        self.group = group
        self.path = path
        self.key = key

    @classmethod
    def open(cls, h5: h5py.File, key: str, path: Path) -> "FieldReader":
        if not isinstance(key, str) or not encodable(key):
            raise DatasetError(path, "not a valid video key (expected text that UTF-8 can encode)",
                               video=str(key))
        if "/" in key or key in ("", ".", ".."):        # h5 paths: '/video_1' or 'video_1/' name video_1 again
            raise DatasetError(path, "not a video key (a video is a group at the top of the file, named without "
                                     "'/')", video=key)
        if h5.get(key, getlink=True) is None:
            raise DatasetError(path, "missing video key (the file has "
                               f"{len(h5.keys())} videos: {preview(natural_sorted(h5.keys()))})",
                               video=key)
        group = _follow_link(h5, key, lambda problem: DatasetError(path, problem, video=key))
        if not isinstance(group, h5py.Group):
            raise DatasetError(path, "is not a group of datasets", video=key)
        return cls(group, path, key)

    def node(self, field: str) -> h5py.Dataset:
        if self.group.get(field, getlink=True) is None:
            raise self.error(field, f"missing field (the video has: {', '.join(self.group.keys())})")
        node = _follow_link(self.group, field, lambda problem: self.error(field, problem))
        if not isinstance(node, h5py.Dataset):
            raise self.error(field, "is not a dataset")
        if node.dtype.kind not in "biuf":
            raise self.error(field, f"wrong dtype {node.dtype}: expected a numeric array")
        if node.shape is None:
            raise self.error(field, "has no data (an empty dataspace)")
        return node

    def dataset_shape(self, field: str) -> tuple:
        return tuple(self.node(field).shape)

    def error(self, field: str, problem: str) -> DatasetError:
        return DatasetError(self.path, problem, video=self.key, field=field)

    def numeric(self, field: str) -> np.ndarray:
        return self.node(field)[()]

    def finite(self, field: str, values: np.ndarray) -> np.ndarray:
        if not np.all(np.isfinite(values)):
            bad = np.argwhere(~np.isfinite(values))[0].tolist()
            raise self.error(field, f"contains NaN or infinite values (first at index {bad})")
        return values

    def integers(self, field: str, values: np.ndarray) -> np.ndarray:
        """Integer arrays, also when a file stores them as whole floats; int64 must hold them unchanged."""
        kind = values.dtype.kind
        if kind == "b":
            raise self.error(field, f"wrong dtype {values.dtype}: expected whole numbers")
        if kind == "f":
            self.finite(field, values)
            if not np.all(values == np.round(values)):
                raise self.error(field, f"wrong dtype {values.dtype}: expected whole numbers")
        largest = np.max(np.abs(values.astype(np.float64))) if values.size and kind in "uf" else 0
        if largest >= 2.0 ** 63:
            raise self.error(field, f"value {largest:g} is too large for a frame count or index")
        return values.astype(np.int64)

    def shape(self, field: str, values: np.ndarray, expected: tuple, meaning: str) -> None:
        matches = values.ndim == len(expected) and all(
            want is None or got == want for got, want in zip(values.shape, expected))
        if not matches:
            raise self.error(field, f"wrong shape {values.shape}: expected {meaning}")

    def positive_int_scalar(self, field: str) -> int:
        values = self.integers(field, self.numeric(field))
        if values.size != 1:
            raise self.error(field, f"wrong shape {values.shape}: expected a scalar")
        value = int(values.reshape(()))
        if value <= 0:
            raise self.error(field, f"must be positive, got {value}")
        return value

    def picks(self, n_frames: int) -> np.ndarray:
        picks = self.integers("picks", self.numeric("picks"))
        self.shape("picks", picks, (None,), "(T,) frame indices")
        if picks.size == 0:
            raise self.error("picks", "is empty")
        if np.any(np.diff(picks) <= 0):
            at = int(np.argmax(np.diff(picks) <= 0))
            raise self.error("picks", f"not strictly increasing (picks[{at}]={picks[at]}, "
                                      f"picks[{at + 1}]={picks[at + 1]})")
        if picks[0] < 0 or picks[-1] >= n_frames:
            raise self.error("picks", f"frame indices must lie in [0, n_frames-1] = "
                                      f"[0, {n_frames - 1}], got [{picks[0]}, {picks[-1]}]")
        return picks

    def features(self, n_steps: Optional[int], feature_dim: Optional[int], load: bool = True) -> Optional[np.ndarray]:
        dtype = self.node("features").dtype
        if dtype.kind != "f":
            raise self.error("features", f"wrong dtype {dtype}: expected floating-point CNN features (float32 in "
                                         f"the eccv16 and Mr.HiSum files)")
        features = self.numeric("features") if load else _ShapeOnly(self.dataset_shape("features"))
        if features.ndim != 2:
            raise self.error("features", f"wrong shape {features.shape}: expected 2-D (T, D)")
        if feature_dim is not None and features.shape[1] != feature_dim:
            raise self.error("features", f"wrong shape {features.shape}: expected width "
                                         f"{feature_dim} (GoogLeNet pool5)")
        if features.shape[1] == 0:
            raise self.error("features", f"wrong shape {features.shape}: expected at least one column")
        if n_steps is not None and features.shape[0] != n_steps:
            raise self.error("features", f"wrong shape {features.shape}: expected {n_steps} rows, "
                                         f"one per entry of picks")
        if not load:
            return None
        features = self.finite("features", _float32(features))
        largest = float(np.abs(features).max()) if features.size else 0.0
        if largest > FEATURE_MAGNITUDE_LIMIT:
            at = np.unravel_index(int(np.argmax(np.abs(features))), features.shape)
            raise self.error("features", f"value {features[at]:.3g} at {list(map(int, at))} is beyond "
                                         f"±{FEATURE_MAGNITUDE_LIMIT:.0e}; CNN features never are (GoogLeNet pool5: "
                                         f"0 to about 20), so the file is damaged or mis-scaled")
        return features

    def step_vector(self, field: str, n_steps: int) -> np.ndarray:
        """One finite value per step, as float32 (the engine asks only for fields the group holds)."""
        values = self.numeric(field)
        self.shape(field, values, (n_steps,), f"({n_steps},), one value per entry of picks")
        return self.finite(field, _float32(values))

    def zero_one(self, field: str, values: np.ndarray) -> np.ndarray:
        """A binary summary: every entry 0 or 1."""
        other = (values != 0) & (values != 1)
        if np.any(other):
            at = np.argwhere(other)[0]
            where = ", ".join(map(str, at.tolist()))
            raise self.error(field, f"expected 0/1 values, got {values[tuple(at)]:g} at index [{where}]")
        return values

    def user_summary(self, n_frames: int) -> np.ndarray:
        summary = self.numeric("user_summary")
        self.shape("user_summary", summary, (None, n_frames), f"(U, n_frames={n_frames})")
        if summary.shape[0] == 0:
            raise self.error("user_summary", "has no users")
        summary = self.finite("user_summary", _float32(summary))
        return self.zero_one("user_summary", summary)

    def video_name(self) -> str:
        if "video_name" not in self.group:
            return self.key
        node = self.group["video_name"]
        if not isinstance(node, h5py.Dataset):
            raise self.error("video_name", "is not a dataset")
        if h5py.check_string_dtype(node.dtype) is None:
            raise self.error("video_name", f"wrong dtype {node.dtype}: expected a string")
        if node.shape is None or int(np.prod(node.shape)) != 1:
            raise self.error("video_name", f"wrong shape {node.shape}: expected one string")
        value = node[()]
        if isinstance(value, np.ndarray):
            value = value.reshape(-1)[0]
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="replace")
        return str(value)

    def check_link(self, field: str) -> None:
        """Refuse a field stored elsewhere (an external link) or nowhere (a dangling link), whoever reads it."""
        _follow_link(self.group, field, lambda problem: self.error(field, problem))

    def has(self, field: str) -> bool:
        """Whether the group names the field (a link that leads nowhere counts: reading it says so)."""
        return self.group.get(field, getlink=True) is not None


def natural_key(name: str) -> list:
    """The sort key that puts video_2 before video_10: the digit runs of a name compared as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def natural_sorted(keys: Iterable[str]) -> list[str]:
    """video_2 before video_10."""
    return sorted(keys, key=natural_key)

