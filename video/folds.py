"""Seeded random train/test folds of a dataset's keys (PGL-SUM's split-list layout); numpy only."""

from __future__ import annotations

import numpy as np


def folds(keys: list[str], count: int, seed: int) -> list[dict[str, list[str]]]:
    """``count`` random folds: each video is a test video of exactly one split."""
    if not 2 <= count <= len(keys):
        raise ValueError(f"--folds: need 2 <= folds <= number of videos ({len(keys)}), got {count}")
    order = np.random.default_rng(seed).permutation(len(keys))
    parts = np.array_split(order, count)
    return [{"train_keys": [keys[i] for i in order if i not in set(part)],
             "test_keys": [keys[i] for i in part]} for part in parts]
