"""A dataset as training and scoring need it: checked videos, splits, its protocol and TVSum's annotations."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

import dataset as eccv16
import evaluation
from catalog import DatasetSpec
from evaluation.protocols import Protocol, get_protocol


class SplitRecords(NamedTuple):
    """A split's videos: trained on, used to select the checkpoint, and reported."""

    train: list[eccv16.VideoRecord]
    selection: list[eccv16.VideoRecord]
    test: list[eccv16.VideoRecord]


@dataclass(frozen=True)
class DatasetBundle:
    spec: DatasetSpec
    videos: dict[str, eccv16.VideoRecord]       #: by split key (`video_1`, or `other.h5/video_1`)
    splits: list[eccv16.Split]
    annotations: dict[str, np.ndarray] | None   #: TVSum protocol: raw annotator scores per video key
    excluded: dict[str, str] = dataclasses.field(default_factory=dict)  #: split key -> why it was left out
    asked: int = 0                              #: videos the splits name, before any was left out

    @property
    def used(self) -> str:
        """'how many of how many' videos the splits use: '23 of 25', or '' when none was left out."""
        return f"{self.asked - len(self.excluded)} of {self.asked}" if self.excluded else ""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def h5_path(self) -> Path:
        return self.spec.h5_path

    @property
    def protocol(self) -> Protocol:
        return get_protocol(self.spec.protocol)

    def split(self, number: int) -> SplitRecords:
        if not 1 <= number <= len(self.splits):
            raise ValueError(f"{self.name}: split {number} does not exist ({self.spec.splits_path} has "
                             f"{len(self.splits)})")
        split = self.splits[number - 1]
        if not split.train_keys or not split.test_keys:
            raise eccv16.DatasetError(self.spec.splits_path, f"{split.label}: no "
                                      f"{'training' if not split.train_keys else 'test'} video is left once the "
                                      f"invalid videos are left out")
        eccv16.check_split_keys(split, self.videos, self.h5_path)
        records = [[self.videos[key] for key in keys]
                   for keys in (split.train_keys, split.selection_keys, split.test_keys)]
        return SplitRecords(*records)

    def with_validation(self, fraction: float, seed: int) -> "DatasetBundle":
        """This dataset with validation videos carved from each split's training videos (see ``carve_validation``);
        splits that have their own validation videos (Mr.HiSum) keep them. A carved video must hold what the
        protocol scores."""
        splits = [split if split.val_keys else carve_validation(split, fraction, seed, self.can_validate)
                  for split in self.splits]
        return dataclasses.replace(self, splits=splits)

    def can_validate(self, key: str) -> bool:
        """Whether a training video may be held out for selection: it holds what the protocol scores (in the
        augmented and transfer settings, OVP and YouTube hold no user summaries, and TVSum's annotations cover
        only TVSum's own videos)."""
        annotated = self.annotations is None or key in self.annotations
        return annotated and unscorable_field(self.videos[key]) is None

    def annotations_for(self, key: str) -> np.ndarray | None:
        if self.annotations is None:
            return None
        if key not in self.annotations:
            raise ValueError(f"{self.name}: no TVSum annotations for video '{key}'")
        return self.annotations[key]

    def fraction_base(self) -> int:
        """N of a fractional batch_size: the original's 25 / 50 for SumMe / TVSum, else the file's video count."""
        if self.spec.fraction_base is not None:
            return self.spec.fraction_base
        return sum(1 for key in self.videos if "/" not in key)


def carve_validation(split: eccv16.Split, fraction: float, seed: int, eligible=None) -> eccv16.Split:
    """The split with ``round(fraction * n)`` of its n eligible training videos moved to its validation videos.

    ``eligible(key)``: whether a training video may be held out (default: every one). Drawn by numpy's
    ``SeedSequence([seed, split number])`` among the eligible videos in the split's order: the same videos on
    every device, thread count and number of ranks. The training videos keep their order; at least one video
    stays on each side.
    """
    keys = list(split.train_keys)
    candidates = [key for key in keys if eligible is None or eligible(key)]
    count = min(max(1, round(fraction * len(candidates))), len(candidates), len(keys) - 1)
    if count < 1:
        raise ValueError(f"validation_fraction: {split.label} has {len(candidates)} training video(s) that can be "
                         f"held out for validation (holding what the protocol scores: user summaries, and for TVSum "
                         f"its own annotations), too few to hold any out")
    drawn = np.random.default_rng([seed, split.number]).choice(len(candidates), size=count, replace=False)
    chosen = {candidates[i] for i in drawn.tolist()}
    return dataclasses.replace(split, train_keys=tuple(k for k in keys if k not in chosen),
                               val_keys=tuple(k for k in keys if k in chosen))


def unscorable_field(record: eccv16.VideoRecord) -> str | None:
    """The first field a protocol reads that the record lacks (None: it can be scored)."""
    for name in ("n_frames", "picks", "change_points", "user_summary"):
        if getattr(record, name) is None:
            return name
    return None


def split_roles(splits: list[eccv16.Split], training: bool = True) -> dict[str, set[str]]:
    """Split key -> what it is used for: training videos are trained on (``train``, ``predict``), selection and
    test videos predicted and scored (``predict``, ``score``). ``training=False`` (scoring saved weights): the
    training videos are not read at all."""
    roles: dict[str, set[str]] = {}
    for split in splits:
        for key in split.train_keys:
            roles.setdefault(key, set()).update((eccv16.TRAIN, eccv16.PREDICT) if training else ())
        for key in split.val_keys + split.test_keys:
            roles.setdefault(key, set()).update((eccv16.PREDICT, eccv16.SCORE))
    return roles


def without_videos(splits: list[eccv16.Split], excluded) -> list[eccv16.Split]:
    """The splits without the excluded videos (a split left without training or test videos is refused when
    it is used: see ``DatasetBundle.split``)."""
    return [dataclasses.replace(split, **{role: tuple(k for k in getattr(split, role) if k not in excluded)
                                          for role in ("train_keys", "val_keys", "test_keys")})
            for split in splits]


def annotations_path(data_dir: str | Path) -> Path:
    """``DATA_DIR/ydata-anno.tsv`` or its gzipped copy; the copy shipped in ``data/`` otherwise."""
    for name in ("ydata-anno.tsv", "ydata-anno.tsv.gz"):
        candidate = Path(data_dir) / name
        try:
            if candidate.is_file():
                return candidate
        except OSError as error:                    # e.g. a name too long for the file system
            raise eccv16.DatasetError(candidate, f"cannot be looked up ({error.strerror})") from None
    return Path(evaluation.default_annotations_path())


def _other_file_key(key: str) -> tuple[str, str] | None:
    """``'eccv16_dataset_ovp_google_pool5.h5/video_3'`` -> (file name, h5 key); None for a plain key."""
    if ".h5/" not in key:
        return None
    file_name, video = key.rsplit("/", 1)
    return file_name, video


def load_bundle(spec: DatasetSpec, *, streaming: bool = False, exclude_invalid: bool = False,
                training: bool = True) -> DatasetBundle:
    """Read the dataset's h5 file once (and every other file its splits name), its splits and annotations.

    Every key of every split is checked up front, for what its role reads (``dataset.rules``): training videos
    for training, selection and test videos for the protocol. ``streaming=True`` checks the features' shapes
    but leaves them on disk; they are read per video while training (datasets larger than memory).
    ``exclude_invalid=True`` leaves out the videos that cannot be used instead of refusing the file.
    ``training=False``: for scoring saved weights; the training videos are not checked (nothing reads them).
    """
    protocol = get_protocol(spec.protocol)
    eccv16.check_is_hdf5(spec.h5_path)
    splits = eccv16.read_splits_file(spec.splits_path, spec.name if spec.schema == "eccv16"
                                     and spec.splits_path.suffix == ".txt" and spec.protocol == spec.name
                                     else None)
    own_name = spec.h5_path.name
    roles = split_roles(splits, training)
    by_file: dict[str, dict[str, set[str]]] = {own_name: {}}
    for key, key_roles in roles.items():
        other = _other_file_key(key)
        file_name, video = other if other is not None else (own_name, key)
        by_file.setdefault(file_name, {})[video] = by_file.get(file_name, {}).get(video, set()) | key_roles
    if not streaming:                               # a dataset larger than memory is refused before it is read
        from .memory import check_features_fit

        check_features_fit({spec.h5_path if name == own_name else spec.h5_path.parent / name:
                            None if name == own_name else sorted(file_roles) for name, file_roles in by_file.items()})

    videos: dict[str, eccv16.VideoRecord] = {}
    excluded: dict[str, str] = {}
    for file_name, file_roles in sorted(by_file.items(), key=lambda item: item[0] != own_name):
        own = file_name == own_name
        path = spec.h5_path if own else spec.h5_path.parent / file_name
        loaded = eccv16.load_h5(path, keys=None if own else sorted(file_roles), schema=spec.schema,
                                load_features=not streaming, roles=file_roles, exclude_invalid=exclude_invalid)
        for key, record in loaded.items():
            videos[f"{file_name}/{key}"] = record
            if own:
                videos[key] = record
        for key, problem in loaded.excluded.items():
            excluded[f"{file_name}/{key}"] = problem
            if own:
                excluded[key] = problem
    for split in splits:
        eccv16.check_split_keys(split, {**videos, **excluded}, spec.h5_path)
    asked = len(roles)
    if excluded:
        splits = without_videos(splits, excluded)
    excluded = {key: problem for key, problem in excluded.items() if key in roles}

    raw_annotations = None
    if protocol.needs_annotations:
        source = spec.annotations_path or evaluation.default_annotations_path()
        raw_annotations = evaluation.load_tvsum_annotations(source)
        scored = {key for split in splits for key in split.selection_keys + split.test_keys}
        for key in sorted(scored):
            if "/" in key and not key.startswith(own_name + "/"):
                raise eccv16.DatasetError(spec.splits_path, f"scored with TVSum's annotations, which only "
                                          f"cover {own_name}; test and validation videos must come from it",
                                          video=key)
            plain = key.rsplit("/", 1)[-1]
            if plain not in raw_annotations:
                raise eccv16.DatasetError(source, f"no annotations for this video of {spec.h5_path}",
                                          video=plain, field="annotations")
        raw_annotations = {**raw_annotations, **{f"{own_name}/{k}": v for k, v in raw_annotations.items()}}
    return DatasetBundle(spec=spec, videos=videos, splits=splits, annotations=raw_annotations, excluded=excluded,
                         asked=asked)
