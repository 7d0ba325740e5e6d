"""A video held in memory, and a split of a dataset's videos."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np


@dataclass(frozen=True, eq=False)
class VideoRecord:
    """One video of a dataset file, held in memory.

    T = number of sampled steps (rows of `features`), S = number of shots, U = number of users.
    `features` is None when loaded with `load_features=False` (or absent from an evaluation-only file).
    A field that none of the video's roles reads and that the file lacks (OVP and YouTube as K. Zhang's copies
    hold them have no shots, frames or user summaries) is None.
    """

    key: str
    video_name: str
    features: Optional[np.ndarray]  # (T, D) float32
    gtscore: Optional[np.ndarray]  # (T,) float32
    gtsummary: Optional[np.ndarray]  # (T,) float32, None when the file has none
    change_points: Optional[np.ndarray]  # (S, 2) int64, inclusive [first, last] frame of each shot
    n_frame_per_seg: Optional[np.ndarray]  # (S,) int64, the shots' lengths
    n_frames: Optional[int]
    picks: Optional[np.ndarray]  # (T,) int64, frame index of each step
    user_summary: Optional[np.ndarray]  # (U, n_frames) float32, 0/1
    n_steps: int  # T
    path: Optional[Path] = None  # the file it was read from (features are read from it when None)

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


