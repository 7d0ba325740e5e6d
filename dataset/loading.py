"""`load_h5`: the one reading and check of a dataset file, for training, inference, evaluation and building."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping, Optional, Union

import h5py

from .eccv16 import ECCV16
from .errors import DatasetError, DatasetNotice, PathLike
from .fields import FieldReader, natural_sorted
from .mrhisum import MRHISUM
from .paths import DOWNLOAD_HINT, FEATURE_DIM, default_h5_path, is_standard_file_name
from .records import VideoRecord
from .rules import ALL_ROLES, SCORE, read_video

#: h5 layouts `load_h5` reads, by name.
SCHEMAS = {"eccv16": ECCV16, "mrhisum": MRHISUM}

#: Invalid videos named in a refusal before the rest are counted.
NAMED_INVALID = 20

Roles = Union[Iterable[str], Mapping[str, Iterable[str]]]


class LoadedVideos(dict):
    """The checked videos of a file by h5 key, with the videos left out (``excluded``: key -> problem) and the
    number of videos asked for (``asked``)."""

    excluded: dict
    asked: int


class InvalidVideos(DatasetError):
    """Some videos of a file cannot be used: every one is named (the first ``NAMED_INVALID``, then a count),
    grouped by what is wrong with them."""

    def __init__(self, path: Path, errors: list[DatasetError], asked: int):
        self.errors = errors
        first = errors[0]
        if len(errors) == 1:
            super().__init__(path, first.problem, video=first.video, field=first.field)
            return
        groups: dict[tuple, list[str]] = {}
        for error in errors:
            groups.setdefault((error.field, error.problem), []).append(error.video)
        named, parts, rest = 0, [], 0
        for (field, problem), videos in groups.items():
            shown = videos[:max(0, NAMED_INVALID - named)]
            named += len(shown)
            if not shown:
                rest += len(videos)
                continue
            more = f" and {len(videos) - len(shown)} more" if len(videos) > len(shown) else ""
            where = ", ".join(f"'{video}'" for video in shown)
            parts.append(f"video{'s' if len(videos) > 1 else ''} {where}{more}: "
                         + (f"field '{field}': " if field else "") + problem)
        tail = f"; and {rest} more videos" if rest > 0 else ""
        super().__init__(path, f"{len(errors)} of {asked} videos cannot be used: {'; '.join(parts)}{tail} "
                               f"(--exclude-invalid-videos leaves them out)")
        self.video, self.field = first.video, first.field


def load_h5(path: Optional[PathLike] = None, dataset_name: Optional[str] = None,
            keys: Optional[Iterable[str]] = None, feature_dim: Optional[int] = FEATURE_DIM,
            require_features: bool = True, require_gtscore: bool = True, schema: str = "eccv16",
            load_features: bool = True, roles: Optional[Roles] = None,
            exclude_invalid: bool = False) -> LoadedVideos:
    """Read a dataset file once and return its checked videos, keyed by h5 key in natural order.

    path: the file; None means `default_h5_path(dataset_name)`.
    keys: load only these videos (each must exist); None loads every group of the file.
    feature_dim: the required width of `features`; None accepts any width shared by all videos.
    schema: 'eccv16' (SumMe, TVSum, OVP, YouTube, the field's generators) or 'mrhisum' (Mr.HiSum's mr_hisum.h5).
    roles: what each video is used for, 'train' and/or 'score' (see `dataset.rules`): one set for every video,
        or a mapping from key to set (videos it does not list have no role: only what they hold is checked).
        None: every video has both roles, unless `require_features` or `require_gtscore` is False (an
        evaluation-only file: 'score' alone).
    load_features: False checks `features`' shape and dtype but leaves them on disk (read them
        with `read_features`); for datasets larger than memory.
    exclude_invalid: leave out the videos that cannot be used (each named once as a notice) instead of
        refusing the file; the result's `excluded` says which.

    Layouts the reference code computes on (see `dataset.rules`) are said once per file with a count, as a
    `DatasetNotice` warning.
    """
    if schema not in SCHEMAS:
        raise ValueError(f"schema: {schema!r} is not one of {', '.join(SCHEMAS)}")
    if path is None:
        if dataset_name is None:
            raise ValueError("load_h5 needs a path or a dataset_name")
        path = default_h5_path(dataset_name)
    path = Path(path)
    role_of = _role_lookup(roles, require_features and require_gtscore)
    layout = SCHEMAS[schema]
    check_is_hdf5(path)
    videos, errors, quirks = LoadedVideos(), [], Counter()
    try:
        with h5py.File(path, "r") as h5:
            wanted = natural_sorted(h5.keys()) if keys is None else list(keys)
            seen: dict = {}
            for key in wanted:
                reader = FieldReader.open(h5, key, path)
                try:
                    _check_not_seen(reader, seen)
                    videos[key], met = read_video(reader, layout, role_of(key), feature_dim, load_features)
                except DatasetError as error:
                    if error.video is None:
                        raise
                    errors.append(error)
                    continue
                quirks.update(met)
    except OSError as error:
        raise DatasetError(path, f"cannot be read as HDF5 ({error})") from error
    errors += _feature_width_errors(videos, path)
    if errors and not exclude_invalid:
        raise InvalidVideos(path, errors, len(wanted))
    for error in errors:
        videos.pop(error.video, None)
        warnings.warn(f"{error}; left out (--exclude-invalid-videos)", DatasetNotice, stacklevel=2)
    if not videos:
        raise DatasetError(path, "contains no videos" if not wanted else "contains no usable videos")
    for quirk, count in sorted(quirks.items(), key=lambda item: item[0].name):
        warnings.warn(f"{path}: {count} of {len(videos)} videos: {quirk.says}", DatasetNotice, stacklevel=2)
    videos.excluded = {error.video: str(error) for error in errors}
    videos.asked = len(wanted)
    return videos


def _check_not_seen(reader: FieldReader, seen: dict) -> None:
    """Refuse a video group that another key of the file already names (a hard or soft link inside the file):
    the same video would be trained on or scored twice."""
    info = h5py.h5o.get_info(reader.group.id)
    address = getattr(info, "addr", None) or getattr(info, "token", None)
    if address in seen:
        raise DatasetError(reader.path, f"is the same group as video '{seen[address]}' (a link inside the file): "
                                        f"the file would hold one video twice", video=reader.key)
    seen[address] = reader.key


def _role_lookup(roles: Optional[Roles], full: bool):
    if roles is None:
        every = ALL_ROLES if full else frozenset({SCORE})
        return lambda key: every
    if isinstance(roles, Mapping):
        table = {key: frozenset(value) for key, value in roles.items()}
        return lambda key: table.get(key, frozenset())
    every = frozenset(roles)
    return lambda key: every


def check_is_hdf5(path: Path) -> None:
    """Refuse, naming the file, a path that is missing, not a file, unreadable or not HDF5."""
    from storage.files import InputFileError, check_input_file

    try:
        check_input_file(path, "dataset file")
    except InputFileError as error:
        problem = str(error).removeprefix(f"{path}: ")
        if problem.endswith(" not found"):
            problem = "file not found"
            if is_standard_file_name(path):
                problem += ". " + DOWNLOAD_HINT.format(data_dir=path.parent)
        raise DatasetError(path, problem) from None
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except (OSError, ValueError) as error:
        raise DatasetError(path, f"cannot be opened ({error})") from None
    if not is_hdf5:
        raise DatasetError(path, "is not an HDF5 file")


def _feature_width_errors(videos: Mapping[str, VideoRecord], path: Path) -> list[DatasetError]:
    """Videos whose features are narrower or wider than the first video's: the model has one input width."""
    with_features = [record for record in videos.values() if record.features is not None]
    if not with_features:
        return []
    width = with_features[0].features.shape[1]
    return [DatasetError(path, f"wrong shape {record.features.shape}: expected width {width} like video "
                               f"'{with_features[0].key}'", video=record.key, field="features")
            for record in with_features if record.features.shape[1] != width]


def read_features(record: VideoRecord):
    """A video's features: the array in memory, or read from its file when loaded with load_features=False."""
    if record.features is not None:
        return record.features
    with h5py.File(record.path, "r") as h5:
        reader = FieldReader(h5[record.key], record.path, record.key)
        return reader.features(record.n_steps, None, True)
