"""Training and scoring CSTA on the eccv16 datasets, split by split, as the original protocol does."""

from .checkpoints import (checkpoint_paths, load_checkpoint, save_checkpoint, split_is_finished,
                          training_fingerprint)
from .data import DatasetBundle, load_bundle
from .loop import SplitOutcome, score_split, train_split
from .reproducibility import library_versions, resolve_device, seed_everything
from .selection import SELECTION_RULES, EpochMetrics

__all__ = [
    "DatasetBundle",
    "EpochMetrics",
    "SELECTION_RULES",
    "SplitOutcome",
    "checkpoint_paths",
    "library_versions",
    "load_bundle",
    "load_checkpoint",
    "resolve_device",
    "save_checkpoint",
    "score_split",
    "seed_everything",
    "split_is_finished",
    "train_split",
    "training_fingerprint",
]
