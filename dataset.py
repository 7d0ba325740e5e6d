"""Video summarization datasets in the eccv16 HDF5 schema, and their train/test splits.

An eccv16 file (SumMe, TVSum) holds one group per video (`video_1`, ...) with the GoogLeNet
pool5 `features` of every 15th frame, the ground-truth `gtscore`, the shots (`change_points`)
and the users' keyshot summaries (`user_summary`). `load_h5` reads a file once, checks it and
keeps the videos in memory as `VideoRecord`s; every problem is reported as a `DatasetError`
naming the file, the video and the field. `gtsummary`, `n_frame_per_seg`, `n_steps` and
`video_name` may be absent (they are derived, or None); the other fields are required because
training and the evaluation protocol read them. `write_eccv16` writes files in the same schema (the
demo data, datasets built from your own videos). Only numpy and h5py are needed.
"""
from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence, Union

import h5py
import numpy as np

PathLike = Union[str, Path]

REPO_ROOT = Path(__file__).resolve().parent
DATA_DIR = REPO_ROOT / "data"
SPLITS_DIR = DATA_DIR / "splits"

FEATURE_DIM = 1024
DATASET_NAMES = ("SumMe", "TVSum")

DOWNLOAD_HINT = (
    "The eccv16 files (eccv16_dataset_summe_google_pool5.h5, eccv16_dataset_tvsum_google_pool5.h5) "
    "are not distributed with this project. Get them from the PGL-SUM repository, which hosts both "
    "as RAR archives under data/ (https://github.com/e-apostolidis/PGL-SUM), or from DSNet's dataset "
    "archive (https://github.com/li-plus/DSNet, see the README's dataset download), and place the "
    "unpacked .h5 files in {data_dir}."
)


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


class _ShapeOnly:
    """Stands for an array that is checked by shape only (features left on disk)."""

    def __init__(self, shape: tuple):
        self.shape = shape
        self.ndim = len(shape)


@dataclass(frozen=True, eq=False)
class VideoRecord:
    """One video of an eccv16 file, held in memory.

    T = number of sampled steps (rows of `features`), S = number of shots,
    U = number of users. `features` is None only when loaded with `require_features=False`.
    """

    key: str
    video_name: str
    features: Optional[np.ndarray]  # (T, D) float32
    gtscore: np.ndarray  # (T,) float32
    gtsummary: Optional[np.ndarray]  # (T,) float32, None when the file has none
    change_points: np.ndarray  # (S, 2) int64, inclusive [first, last] frame of each shot
    n_frame_per_seg: np.ndarray  # (S,) int64
    n_frames: int
    picks: np.ndarray  # (T,) int64, frame index of each step
    user_summary: np.ndarray  # (U, n_frames) float32, 0/1
    path: Optional[Path] = None  # the file it was read from (features are read from it when None)

    @property
    def n_steps(self) -> int:
        return int(self.picks.shape[0])

    @property
    def n_users(self) -> int:
        return int(self.user_summary.shape[0])


@dataclass(frozen=True)
class Split:
    """One split: the keys of its training, test and (optionally) validation videos.

    A key is an h5 key of the dataset's file (`video_1`) or, in the augmented and transfer settings,
    `FILE.h5/KEY`: a video of another h5 file in the same data folder.
    """

    train_keys: tuple[str, ...]
    test_keys: tuple[str, ...]
    name: str = ""
    source: Optional[Path] = None
    number: int = 0             #: 1-based position in its file, as train.py --splits counts
    val_keys: tuple[str, ...] = ()  #: checkpoint selection videos (Mr.HiSum); empty: select on the test videos

    @property
    def keys(self) -> tuple[str, ...]:
        return self.train_keys + self.val_keys + self.test_keys

    @property
    def selection_keys(self) -> tuple[str, ...]:
        return self.val_keys or self.test_keys

    @property
    def label(self) -> str:
        """'split 1' (with the file's own name when it differs, e.g. CSTA's 'split0')."""
        own = f" ('{self.name}' in the file)" if self.name and self.name != f"split{self.number}" else ""
        return f"split {self.number}{own}"


# ---------------------------------------------------------------------------------------------
# paths


def canonical_dataset_name(dataset_name: str) -> str:
    """'summe' -> 'SumMe', 'TVSUM' -> 'TVSum'; other names are returned unchanged."""
    for known in DATASET_NAMES:
        if dataset_name.lower() == known.lower():
            return known
    return dataset_name


def h5_file_name(dataset_name: str) -> str:
    return f"eccv16_dataset_{dataset_name.lower()}_google_pool5.h5"


def default_h5_path(dataset_name: str, data_dir: Optional[PathLike] = None) -> Path:
    """`data/eccv16_dataset_{summe,tvsum}_google_pool5.h5`, relative to the repository."""
    return Path(data_dir if data_dir is not None else DATA_DIR) / h5_file_name(dataset_name)


def splits_path(dataset_name: str, splits_dir: Optional[PathLike] = None) -> Path:
    """`data/splits/{SumMe,TVSum}_splits.txt`, relative to the repository."""
    directory = Path(splits_dir if splits_dir is not None else SPLITS_DIR)
    return directory / f"{canonical_dataset_name(dataset_name)}_splits.txt"


def _is_standard_file_name(path: Path) -> bool:
    return path.name in {h5_file_name(name) for name in DATASET_NAMES}


# ---------------------------------------------------------------------------------------------
# loading


def load_h5(path: Optional[PathLike] = None, dataset_name: Optional[str] = None,
            keys: Optional[Iterable[str]] = None, feature_dim: Optional[int] = FEATURE_DIM,
            require_features: bool = True, require_gtscore: bool = True, schema: str = "eccv16",
            load_features: bool = True) -> dict[str, VideoRecord]:
    """Read a dataset file once and return its checked videos, keyed by h5 key in natural order.

    The one validation of h5 content: training, `python -m evaluation`, inference and dataset building
    all read through here, so a file is accepted or refused with the same message everywhere.

    path: the file; None means `default_h5_path(dataset_name)`.
    keys: load only these videos (each must exist); None loads every group of the file.
    feature_dim: the required width of `features`; None accepts any width shared by all videos.
    require_features: False accepts files without `features` (evaluation-only files).
    require_gtscore: False accepts files without `gtscore` (the eccv16 F1/tau/rho do not read it).
    schema: 'eccv16' (SumMe, TVSum, OVP, YouTube) or 'mrhisum' (Mr.HiSum's mr_hisum.h5).
    load_features: False checks `features`' shape and dtype but leaves them on disk (read them
        with `read_features`); for datasets larger than memory.
    """
    if schema not in SCHEMAS:
        raise ValueError(f"schema: {schema!r} is not one of {', '.join(SCHEMAS)}")
    if path is None:
        if dataset_name is None:
            raise ValueError("load_h5 needs a path or a dataset_name")
        path = default_h5_path(dataset_name)
    path = Path(path)
    _check_is_hdf5(path)
    try:
        with h5py.File(path, "r") as h5:
            wanted = natural_sorted(h5.keys()) if keys is None else list(keys)
            read = SCHEMAS[schema]
            videos = {key: read(_FieldReader.open(h5, key, path), feature_dim, require_features,
                                require_gtscore, load_features)
                      for key in wanted}
    except OSError as error:
        raise DatasetError(path, f"cannot be read as HDF5 ({error})") from error
    if not videos:
        raise DatasetError(path, "contains no videos")
    _check_common_feature_width(videos, path)
    return videos


def _check_is_hdf5(path: Path) -> None:
    from storage.files import InputFileError, check_input_file

    try:
        check_input_file(path, "dataset file")
    except InputFileError as error:
        problem = str(error).removeprefix(f"{path}: ")
        if problem.endswith(" not found"):
            problem = "file not found"
            if _is_standard_file_name(path):
                problem += ". " + DOWNLOAD_HINT.format(data_dir=path.parent)
        raise DatasetError(path, problem) from None
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except (OSError, ValueError) as error:
        raise DatasetError(path, f"cannot be opened ({error})") from None
    if not is_hdf5:
        raise DatasetError(path, "is not an HDF5 file")


def natural_key(name: str) -> list:
    """The sort key that puts video_2 before video_10: the digit runs of a name compared as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def natural_sorted(keys: Iterable[str]) -> list[str]:
    """video_2 before video_10."""
    return sorted(keys, key=natural_key)


def _read_eccv16_video(reader: "_FieldReader", feature_dim: Optional[int], require_features: bool,
                       require_gtscore: bool, load_features: bool) -> VideoRecord:
    n_frames = reader.positive_int_scalar("n_frames")
    picks = reader.picks(n_frames)
    n_steps = picks.shape[0]
    has_features = require_features or "features" in reader.group
    features = reader.features(n_steps, feature_dim, load_features) if has_features else None
    gtscore = reader.step_vector("gtscore", n_steps, required=require_gtscore)
    gtsummary = reader.step_vector("gtsummary", n_steps, required=False)
    if gtscore is not None:
        reader.unit_interval("gtscore", gtscore)
    if gtsummary is not None:
        reader.zero_one("gtsummary", gtsummary)
    change_points = reader.change_points(n_frames)
    record = VideoRecord(
        key=reader.key,
        video_name=reader.video_name(),
        features=features,
        gtscore=gtscore,
        gtsummary=gtsummary,
        change_points=change_points,
        n_frame_per_seg=reader.n_frame_per_seg(change_points),
        n_frames=n_frames,
        picks=picks,
        user_summary=reader.user_summary(n_frames),
        path=reader.path,
    )
    reader.n_steps(n_steps)
    return record


def _read_mrhisum_video(reader: "_FieldReader", feature_dim: Optional[int], require_features: bool,
                        require_gtscore: bool, load_features: bool) -> VideoRecord:
    """A Mr.HiSum video: one step per second, every step scored; shots with exclusive ends.

    It is held like an eccv16 video whose frames are its steps (`picks` = 0..n-1, `n_frames` = n),
    with inclusive shot ends and `gt_summary` as the single user summary.
    """
    shape = reader.dataset_shape("features")
    if len(shape) != 2 or shape[0] == 0:
        raise reader.error("features", f"wrong shape {shape}: expected 2-D (n, D) with n >= 1")
    n_steps = int(shape[0])
    features = reader.features(n_steps, feature_dim, load_features)
    gtscore = reader.unit_interval("gtscore", reader.step_vector("gtscore", n_steps, required=True))
    change_points = reader.exclusive_change_points(n_steps)
    gt_summary = reader.zero_one("gt_summary", reader.step_vector("gt_summary", n_steps, required=True))
    return VideoRecord(
        key=reader.key,
        video_name=reader.video_name(),
        features=features,
        gtscore=gtscore,
        gtsummary=gt_summary,
        change_points=change_points,
        n_frame_per_seg=change_points[:, 1] - change_points[:, 0] + 1,
        n_frames=n_steps,
        picks=np.arange(n_steps, dtype=np.int64),
        user_summary=gt_summary[None, :],
        path=reader.path,
    )


#: h5 layouts `load_h5` reads: schema -> reader of one video group.
SCHEMAS = {"eccv16": _read_eccv16_video, "mrhisum": _read_mrhisum_video}


#: The largest feature magnitude accepted. Far above any real CNN feature; near float32's limit the model's
#: products overflow and training would report a non-finite loss for the wrong video.
FEATURE_MAGNITUDE_LIMIT = 1e6


def read_features(record: "VideoRecord") -> np.ndarray:
    """A video's features: the array in memory, or read from its file when loaded with load_features=False."""
    if record.features is not None:
        return record.features
    with h5py.File(record.path, "r") as h5:
        reader = _FieldReader(h5[record.key], record.path, record.key)
        return reader.features(record.n_steps, None, True)


def _float32(values: np.ndarray) -> np.ndarray:
    """float32 as the model and the protocol compute; values beyond its range become infinite (and are refused)."""
    with np.errstate(over="ignore"):
        return values.astype(np.float32, copy=False)


def _encodable(text: str) -> bool:
    """False for text with lone surrogates (from a JSON escape like \\ud800), which no file or h5 key can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _preview(keys: Sequence[str], limit: int = 6) -> str:
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


class _FieldReader:
    """Reads and checks the fields of one video group."""

    def __init__(self, group: h5py.Group, path: Path, key: str):
        self.group = group
        self.path = path
        self.key = key

    @classmethod
    def open(cls, h5: h5py.File, key: str, path: Path) -> "_FieldReader":
        if not isinstance(key, str) or not _encodable(key):
            raise DatasetError(path, "not a valid video key (expected text that UTF-8 can encode)",
                               video=str(key))
        if "/" in key or key in ("", ".", ".."):        # h5 paths: '/video_1' or 'video_1/' name video_1 again
            raise DatasetError(path, "not a video key (a video is a group at the top of the file, named without "
                                     "'/')", video=key)
        if h5.get(key, getlink=True) is None:
            raise DatasetError(path, "missing video key (the file has "
                               f"{len(h5.keys())} videos: {_preview(natural_sorted(h5.keys()))})",
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

    def features(self, n_steps: int, feature_dim: Optional[int], load: bool = True) -> Optional[np.ndarray]:
        features = self.numeric("features") if load else _ShapeOnly(self.dataset_shape("features"))
        if features.ndim != 2:
            raise self.error("features", f"wrong shape {features.shape}: expected 2-D (T, D)")
        if feature_dim is not None and features.shape[1] != feature_dim:
            raise self.error("features", f"wrong shape {features.shape}: expected width "
                                         f"{feature_dim} (GoogLeNet pool5)")
        if features.shape[1] == 0:
            raise self.error("features", f"wrong shape {features.shape}: expected at least one column")
        if features.shape[0] != n_steps:
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

    def step_vector(self, field: str, n_steps: int, required: bool) -> Optional[np.ndarray]:
        if not required and field not in self.group:
            return None
        values = self.numeric(field)
        self.shape(field, values, (n_steps,), f"({n_steps},), one value per entry of picks")
        return self.finite(field, _float32(values))

    def unit_interval(self, field: str, values: np.ndarray) -> np.ndarray:
        """Importance scores in [0, 1], as the datasets normalise them."""
        outside = (values < 0) | (values > 1)
        if np.any(outside):
            at = int(np.argmax(outside))
            raise self.error(field, f"values must lie in [0, 1], got {values[at]:g} at index {at}")
        return values

    def zero_one(self, field: str, values: np.ndarray) -> np.ndarray:
        """A binary summary: every entry 0 or 1."""
        other = (values != 0) & (values != 1)
        if np.any(other):
            at = np.argwhere(other)[0]
            where = ", ".join(map(str, at.tolist()))
            raise self.error(field, f"expected 0/1 values, got {values[tuple(at)]:g} at index [{where}]")
        return values

    def change_points(self, n_frames: int) -> np.ndarray:
        change_points = self.integers("change_points", self.numeric("change_points"))
        self.shape("change_points", change_points, (None, 2), "(S, 2) [first, last] frames")
        if change_points.shape[0] == 0:
            raise self.error("change_points", "has no shots")
        starts, ends = change_points[:, 0], change_points[:, 1]
        outside = (starts < 0) | (ends >= n_frames) | (starts > ends)
        if np.any(outside):
            shot = int(np.argmax(outside))
            raise self.error("change_points", f"shot {shot} = {change_points[shot].tolist()} out of "
                                              f"range: expected 0 <= first <= last <= "
                                              f"n_frames-1 = {n_frames - 1}")
        self.tiling(change_points, n_frames)
        return change_points

    def tiling(self, change_points: np.ndarray, n_frames: int) -> None:
        """Shots in order, each starting on the frame after the previous one ends, from frame 0 to n_frames-1.

        The keyshot budget is 15 % of the last shot's end and frames outside every shot cannot be
        selected, so shots that are reversed, overlap, leave gaps or stop short change F1, tau and rho
        without any error; the eccv16 files (KTS shots) and every file written here tile the video.
        """
        starts, ends = change_points[:, 0], change_points[:, 1]
        rows = change_points.tolist()

        def fail(shot: int, problem: str) -> DatasetError:
            return self.error("change_points", f"shot {shot} = {rows[shot]}: {problem}")

        backwards = np.diff(starts) <= 0
        if np.any(backwards):
            shot = int(np.argmax(backwards)) + 1
            raise fail(shot, f"shots not in increasing order: it starts at or before shot {shot - 1} = "
                             f"{rows[shot - 1]}")
        if starts[0] != 0:
            raise fail(0, "the first shot must start at frame 0")
        overlap = starts[1:] <= ends[:-1]
        if np.any(overlap):
            shot = int(np.argmax(overlap)) + 1
            raise fail(shot, f"overlaps shot {shot - 1} = {rows[shot - 1]} (expected it to start at frame "
                             f"{ends[shot - 1] + 1})")
        gap = starts[1:] > ends[:-1] + 1
        if np.any(gap):
            shot = int(np.argmax(gap)) + 1
            raise fail(shot, f"frames {ends[shot - 1] + 1}..{starts[shot] - 1} after shot {shot - 1} belong to "
                             f"no shot (expected it to start at frame {ends[shot - 1] + 1})")
        if ends[-1] != n_frames - 1:
            raise fail(len(rows) - 1, f"the last shot ends before the last frame, n_frames-1 = {n_frames - 1}: "
                                      f"frames {ends[-1] + 1}..{n_frames - 1} belong to no shot")

    def exclusive_change_points(self, n_steps: int) -> np.ndarray:
        """Mr.HiSum's shots `[start, end)` tiling 0..n, returned with inclusive ends."""
        change_points = self.integers("change_points", self.numeric("change_points"))
        self.shape("change_points", change_points, (None, 2), "(S, 2) [start, end) steps")
        if change_points.shape[0] == 0:
            raise self.error("change_points", "has no shots")
        starts, ends = change_points[:, 0], change_points[:, 1]
        expected_starts = np.concatenate(([0], ends[:-1]))
        if np.any(starts != expected_starts) or np.any(ends <= starts) or ends[-1] != n_steps:
            shot = int(np.argmax((starts != expected_starts) | (ends <= starts))) \
                if np.any((starts != expected_starts) | (ends <= starts)) else len(ends) - 1
            raise self.error("change_points", f"shot {shot} = {change_points[shot].tolist()}: expected "
                                              f"[start, end) rows with start < end that tile 0..n = "
                                              f"0..{n_steps} (end = next start, last end = n)")
        return np.stack((starts, ends - 1), axis=1)

    def n_frame_per_seg(self, change_points: np.ndarray) -> np.ndarray:
        derived = change_points[:, 1] - change_points[:, 0] + 1
        if "n_frame_per_seg" not in self.group:
            return derived
        values = self.integers("n_frame_per_seg", self.numeric("n_frame_per_seg"))
        self.shape("n_frame_per_seg", values, derived.shape, f"({derived.shape[0]},), one per shot")
        differs = values != derived
        if np.any(differs):
            shot = int(np.argmax(differs))
            raise self.error("n_frame_per_seg", f"entry {shot} is {values[shot]}, but shot {shot} of change_points "
                                                f"= {change_points[shot].tolist()} has {derived[shot]} frames "
                                                f"(last - first + 1)")
        return values

    def n_steps(self, n_steps: int) -> None:
        """The optional `n_steps` must count the entries of `picks` (the features' rows)."""
        if "n_steps" not in self.group:
            return
        stored = self.positive_int_scalar("n_steps")
        if stored != n_steps:
            raise self.error("n_steps", f"is {stored}, but picks has {n_steps} entries")

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


def _check_common_feature_width(videos: Mapping[str, VideoRecord], path: Path) -> None:
    with_features = [record for record in videos.values() if record.features is not None]
    if not with_features:
        return
    width = with_features[0].features.shape[1]
    for record in with_features:
        if record.features.shape[1] != width:
            raise DatasetError(path, f"wrong shape {record.features.shape}: expected width {width} "
                                     f"like video '{with_features[0].key}'",
                               video=record.key, field="features")


# ---------------------------------------------------------------------------------------------
# writing


def write_eccv16(target, videos: Iterable[Union[Mapping, VideoRecord]], *, attrs: Optional[Mapping] = None,
                 text_encoding: str = "utf-8") -> None:
    """Write videos as the groups of an eccv16 h5 file, the layout :func:`load_h5` reads.

    target: a path or a binary file object (a new file is written there), or an open ``h5py.Group``
        that the video groups are added to.
    videos: per video a mapping (or a :class:`VideoRecord`) with ``key``, ``features``, ``gtscore``,
        ``gtsummary``, ``change_points``, ``n_frames``, ``picks``, ``user_summary`` and ``video_name``;
        ``features``, ``gtscore``, ``gtsummary`` and ``video_name`` are left out when None. ``n_steps`` and
        ``n_frame_per_seg`` are derived from ``picks`` and ``change_points``.
    attrs: attributes of the file itself (a path or file object only).
    text_encoding: the string type of ``video_name``, 'utf-8' or 'ascii'.

    Arrays are stored as the eccv16 files hold them: float32 features, scores and summaries, int64
    shots, frame indices and counts.
    """
    if isinstance(target, h5py.Group):
        if attrs:
            raise ValueError("attrs: set a group's attributes on the group itself")
        _write_eccv16_groups(target, videos, text_encoding)
        return
    with h5py.File(target, "w") as h5:
        for name, value in (attrs or {}).items():
            h5.attrs[name] = value
        _write_eccv16_groups(h5, videos, text_encoding)


def _write_eccv16_groups(h5: h5py.Group, videos, text_encoding: str) -> None:
    for video in videos:
        fields = video if isinstance(video, Mapping) else {f.name: getattr(video, f.name)
                                                          for f in dataclasses.fields(video)}
        change_points = np.asarray(fields["change_points"], dtype=np.int64)
        picks = np.asarray(fields["picks"], dtype=np.int64)
        group = h5.create_group(fields["key"])
        if fields.get("features") is not None:
            group.create_dataset("features", data=np.asarray(fields["features"], dtype=np.float32))
        if fields.get("gtscore") is not None:
            group.create_dataset("gtscore", data=np.asarray(fields["gtscore"], dtype=np.float32))
        if fields.get("gtsummary") is not None:
            group.create_dataset("gtsummary", data=np.asarray(fields["gtsummary"], dtype=np.float32))
        group.create_dataset("change_points", data=change_points)
        group.create_dataset("n_frame_per_seg", data=change_points[:, 1] - change_points[:, 0] + 1)
        group.create_dataset("n_frames", data=np.int64(fields["n_frames"]))
        group.create_dataset("n_steps", data=np.int64(len(picks)))
        group.create_dataset("picks", data=picks)
        group.create_dataset("user_summary", data=np.asarray(fields["user_summary"], dtype=np.float32))
        if fields.get("video_name") is not None:
            group.create_dataset("video_name", data=fields["video_name"], dtype=h5py.string_dtype(text_encoding))


# ---------------------------------------------------------------------------------------------
# splits


def load_splits(dataset_name: str, splits_dir: Optional[PathLike] = None) -> list[Split]:
    """The splits of `{splits_dir}/{SumMe,TVSum}_splits.txt` (default: the repository's data/splits)."""
    return read_splits_file(splits_path(dataset_name, splits_dir), dataset_name)


#: Split file formats by suffix: CSTA's text lines, PGL-SUM's JSON list / Mr.HiSum's JSON object, DSNet's YAML.
SPLIT_FORMATS = {".txt": "csta", ".json": "json", ".yml": "yaml", ".yaml": "yaml"}


def read_splits_file(path: PathLike, dataset_name: Optional[str] = None, *,
                     require_training: bool = True) -> list[Split]:
    """Read a split file in any of the field's formats (see `SPLIT_FORMATS`).

    * CSTA (`.txt`): lines `Dataset/splitK/train_keys/test_keys`, keys comma-separated;
    * PGL-SUM (`.json`) and DSNet (`.yml`): a list of `{"train_keys": [...], "test_keys": [...]}`;
    * Mr.HiSum (`.json`): one object `{"train_keys", "val_keys", "test_keys"}` (a single split).

    require_training: False accepts splits without training videos (scoring reads only the others).
    """
    from storage.files import InputFileError, check_input_file, read_input_text

    path = Path(path)
    try:
        check_input_file(path, "split file")
        kind = SPLIT_FORMATS.get(path.suffix.lower())
        if kind is None:
            raise DatasetError(path, f"unknown split file type {path.suffix!r}: expected one of "
                                     f"{', '.join(SPLIT_FORMATS)}")
        text = read_input_text(path, "split file")
    except InputFileError as error:
        raise DatasetError(path, str(error).removeprefix(f"{path}: ")) from None
    if kind == "csta":
        lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if not lines:
            raise DatasetError(path, "split file has no splits")
        splits = [_parse_split_line(path, number, line, dataset_name, require_training) for number, line in lines]
    else:
        splits = _parse_split_lists(path, _load_structured(path, text, kind), require_training)
    return [dataclasses.replace(split, number=index) for index, split in enumerate(splits, start=1)]


class RepeatedField(ValueError):
    """A JSON object or YAML mapping that names a field twice (the parsers keep the last silently)."""

    def __init__(self, field: str):
        self.field = field
        super().__init__(f"field {field!r} appears twice in one object")


def _unique_fields(pairs: list) -> dict:
    counts = Counter(key for key, _ in pairs)
    repeated = [key for key, count in counts.items() if count > 1]
    if repeated:
        raise RepeatedField(repeated[0])
    return dict(pairs)


def load_json_strictly(text: str):
    """`json.loads`, refusing objects that name a field twice; errors are ValueError or RecursionError."""
    try:
        return json.loads(text, object_pairs_hook=_unique_fields)
    except (json.JSONDecodeError, RepeatedField):
        raise
    except ValueError as error:                    # Python's limit on the digits of an integer
        raise ValueError(str(error).split("; use sys.")[0]) from None


def _check_yaml_fields_unique(text: str) -> None:
    """Refuse a YAML mapping that names a key twice; composing builds nodes only, never Python objects."""
    import yaml

    stack, seen = [yaml.compose(text, Loader=yaml.SafeLoader)], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:                 # aliases share their node
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            scalars = Counter((key.tag, key.value) for key, _ in node.value if isinstance(key, yaml.ScalarNode))
            repeated = [value for (_, value), count in scalars.items() if count > 1]
            if repeated:
                raise RepeatedField(repeated[0])
            stack.extend(value for pair in node.value for value in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _load_structured(path: Path, text: str, kind: str):
    try:
        if kind == "json":
            return load_json_strictly(text)
        import yaml

        _check_yaml_fields_unique(text)
        return yaml.safe_load(text)
    except ImportError:
        raise DatasetError(path, "reading YAML split files needs PyYAML (pip install pyyaml)") from None
    except RepeatedField as repeated:
        raise DatasetError(path, str(repeated)) from None
    except RecursionError:
        raise DatasetError(path, f"cannot be parsed as {kind.upper()}: nested too deeply") from None
    except Exception as error:                     # json.JSONDecodeError, yaml.YAMLError, int digit limit
        raise DatasetError(path, f"cannot be parsed as {kind.upper()}: {error}".splitlines()[0]) from None


ROLES = ("train_keys", "val_keys", "test_keys")


def _parse_split_lists(path: Path, data, require_training: bool = True) -> list[Split]:
    entries = [data] if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise DatasetError(path, "expected a list of {train_keys, test_keys} objects or one "
                                 "{train_keys, val_keys, test_keys} object")
    splits = []
    for index, entry in enumerate(entries, start=1):
        def fail(problem: str) -> DatasetError:
            return DatasetError(path, f"split {index}: {problem}")

        if not isinstance(entry, dict):
            raise fail("expected an object with train_keys and test_keys")
        unknown = sorted(str(field) for field in entry if field not in ROLES)
        if unknown:
            raise fail(f"unknown field(s) {', '.join(unknown)}")
        roles = {}
        for role in ROLES:
            keys = entry.get(role, [])
            if not isinstance(keys, list):
                raise fail(f"{role}: expected a list of video keys, got {type(keys).__name__}")
            roles[role] = [_checked_key(key, position, fail, role) for position, key in enumerate(keys)]
        _check_roles(fail, roles, f"split {index}", require_training)
        splits.append(Split(train_keys=tuple(roles["train_keys"]), test_keys=tuple(roles["test_keys"]),
                            val_keys=tuple(roles["val_keys"]), name=f"split{index}", source=path))
    return splits


def _checked_key(key, position: int, fail, role: str) -> str:
    """A split file's video key, stripped and normalised; the problem names the role and the key's position."""
    if not isinstance(key, str) or not key.strip():
        raise fail(f"{role}: expected a list of video keys, entry {position} is {key!r}")
    key = key.strip()
    if not key.isprintable() or not _encodable(key):
        raise fail(f"{role}: entry {position} {key!r} is not a plain video key (control characters or "
                   f"unencodable text)")
    normalised = _normalise_key(key)
    file_part, _, video = normalised.rpartition("/")
    if file_part and (not video or file_part == ".h5"):
        raise fail(f"{role}: entry {position} {key!r} names no video (expected FILE.h5/KEY)")
    return normalised


def _normalise_key(key: str) -> str:
    """`../datasets/eccv16_dataset_ovp_google_pool5.h5/video_3` -> `eccv16_dataset_ovp_google_pool5.h5/video_3`."""
    if ".h5/" in key:
        file_part, video = key.rsplit(".h5/", 1)
        return f"{Path(file_part + '.h5').name}/{video}"
    return key


def _check_roles(fail, roles: dict, name: str, require_training: bool = True) -> None:
    if (require_training and not roles["train_keys"]) or not roles["test_keys"]:
        raise fail("a split needs at least one training and one test video" if require_training
                   else "a split needs at least one test video")
    for role, keys in roles.items():
        repeated = sorted(key for key, count in Counter(keys).items() if count > 1)
        if repeated:
            raise fail(f"{role.replace('_keys', '')} keys repeated: {', '.join(repeated)}")
    for first, second in (("train_keys", "test_keys"), ("train_keys", "val_keys"), ("val_keys", "test_keys")):
        in_first = set(roles[first])
        both = [key for key in roles[second] if key in in_first]
        if both:
            raise fail(f"keys in both {first.replace('_keys', '')} and {second.replace('_keys', '')} of "
                       f"{name}: {', '.join(both)}")


def _parse_split_line(path: Path, number: int, line: str, dataset_name: Optional[str],
                      require_training: bool = True) -> Split:
    def fail(problem: str) -> DatasetError:
        return DatasetError(path, f"line {number}: {problem}")

    parts = line.split("/")
    if len(parts) != 4:
        raise fail(f"expected 'Dataset/splitK/train_keys/test_keys', got {len(parts)} "
                   f"'/'-separated fields")
    dataset, name, train_text, test_text = parts
    if dataset_name is not None and dataset.lower() != dataset_name.lower():
        raise fail(f"split of dataset '{dataset}', expected '{canonical_dataset_name(dataset_name)}'")
    roles = {"train_keys": _parse_keys(train_text, fail, "train_keys"), "val_keys": [],
             "test_keys": _parse_keys(test_text, fail, "test_keys")}
    _check_roles(fail, roles, name, require_training)
    return Split(train_keys=tuple(roles["train_keys"]), test_keys=tuple(roles["test_keys"]), name=name, source=path)


def _parse_keys(text: str, fail, role: str) -> list[str]:
    keys = [key.strip() for key in text.split(",") if key.strip()]
    return [_checked_key(key, position, fail, role) for position, key in enumerate(keys)]


def check_split_keys(split: Split, videos: Mapping[str, object], path: PathLike) -> None:
    """Fail with a clear message when a split names a video that `videos` (loaded from path) lacks."""
    missing = [key for key in split.keys if key not in videos]
    if missing:
        source = split.source if split.source is not None else "split"
        raise DatasetError(path, f"missing video key: {source} ({split.label}) names "
                                 f"{len(missing)} video(s) the file lacks: {_preview(missing)}",
                           video=missing[0])


def split_records(split: Split, videos: Mapping[str, VideoRecord],
                  path: PathLike) -> tuple[list[VideoRecord], list[VideoRecord]]:
    """The (train, test) records of a split, in the split's order."""
    check_split_keys(split, videos, path)
    return [videos[key] for key in split.train_keys], [videos[key] for key in split.test_keys]
