"""A dataset as training and scoring need it: videos in memory, splits, and TVSum's annotations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

import dataset as eccv16
import evaluation


@dataclass(frozen=True)
class DatasetBundle:
    name: str                                   #: 'SumMe' or 'TVSum' (the evaluation protocol)
    h5_path: Path
    videos: dict[str, eccv16.VideoRecord]
    splits: list[eccv16.Split]
    annotations: dict[str, np.ndarray] | None   #: TVSum: raw annotator scores per video key

    def split(self, number: int) -> tuple[list[eccv16.VideoRecord], list[eccv16.VideoRecord]]:
        if not 1 <= number <= len(self.splits):
            raise ValueError(f"{self.name}: split {number} does not exist (the splits file has "
                             f"{len(self.splits)})")
        return eccv16.split_records(self.splits[number - 1], self.videos, self.h5_path)

    def annotations_for(self, key: str) -> np.ndarray | None:
        if self.annotations is None:
            return None
        if key not in self.annotations:
            raise ValueError(f"{self.name}: no TVSum annotations for video '{key}'")
        return self.annotations[key]


def annotations_path(data_dir: str | Path) -> Path:
    """``DATA_DIR/ydata-anno.tsv`` or its gzipped copy; the copy shipped in ``data/`` otherwise."""
    for name in ("ydata-anno.tsv", "ydata-anno.tsv.gz"):
        candidate = Path(data_dir) / name
        if candidate.is_file():
            return candidate
    return Path(evaluation.default_annotations_path())


def load_bundle(name: str, *, h5_path: str | Path, splits_path: str | Path,
                annotations: str | Path | None = None) -> DatasetBundle:
    """Read the h5 file once, its splits, and (TVSum) its annotations; every key is checked up front."""
    videos = eccv16.load_h5(h5_path, dataset_name=name)
    splits = eccv16.read_splits_file(splits_path, name)
    for split in splits:
        eccv16.check_split_keys(split, videos, h5_path)
    raw_annotations = None
    if name == "TVSum":
        raw_annotations = evaluation.load_tvsum_annotations(annotations)
        missing = [key for key in videos if key not in raw_annotations]
        if missing:
            raise ValueError(f"{annotations}: no annotations for video '{missing[0]}' of {h5_path} "
                             f"({len(missing)} videos lack them)")
    return DatasetBundle(name=name, h5_path=Path(h5_path), videos=videos, splits=splits,
                         annotations=raw_annotations)
