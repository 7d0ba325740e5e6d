"""A synthetic dataset in Mr.HiSum's h5 schema, for tests and benchmarks (the real features need YouTube-8M).

Per video (key ``video_<int>``), as the Mr.HiSum repository reads it: ``features`` (n, 1024) float32
at one step per second, ``gtscore`` (n,) in [0, 1] with max 1, ``change_points`` (k, 2) int64 rows
``[start_i, start_{i+1}]`` from 0 whose last row ends at n − 1, as in the real ``mr_hisum.h5``, and
``gt_summary`` (n,) float32 0/1: the summary Mr.HiSum's own
``generate_summary`` makes from ``gtscore`` (built here with :func:`evaluation.mrhisum.mrhisum_summary`).
The features carry the score along a hidden direction, so a model can learn it. The split file is
Mr.HiSum's ``{"train_keys", "val_keys", "test_keys"}``.

    python -m demo.mrhisum OUT_DIR [--videos N] [--min-steps A] [--max-steps B] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import h5py
import numpy as np

from evaluation.mrhisum import mrhisum_summary
from storage.files import write_atomically, write_json_atomically

FEATURE_DIM = 1024


def _smooth_scores(rng: np.random.Generator, n: int) -> np.ndarray:
    steps = np.arange(n)
    curve = np.zeros(n)
    for _ in range(max(1, n // 40)):
        centre, width = rng.uniform(0, n), rng.uniform(3, max(4, n / 6))
        curve += rng.uniform(0.3, 1.0) * np.exp(-0.5 * ((steps - centre) / width) ** 2)
    curve += 0.1 * np.convolve(rng.standard_normal(n + 8), np.ones(9) / 9, mode="valid")
    curve -= curve.min()
    return (curve / curve.max() if curve.max() > 0 else np.ones(n)).astype(np.float32)


def _shots(rng: np.random.Generator, n: int) -> np.ndarray:
    """Shots of 2 to 40 steps as inclusive [first, last] rows tiling 0..n-1."""
    ends, position = [], 0
    while position < n:
        position = min(n, position + int(rng.integers(2, 41)))
        if n - position < 2:
            position = n
        ends.append(position)
    starts = [0] + ends[:-1]
    return np.stack([starts, np.array(ends) - 1], axis=1).astype(np.int64)


def real_file_rows(shots: np.ndarray) -> np.ndarray:
    """Inclusive shots as the real mr_hisum.h5 stores them: [start_i, start_{i+1}], the last row ending at n − 1."""
    rows = shots.copy()
    rows[:-1, 1] += 1
    return rows


def write_video(h5: h5py.File, key: str, rng: np.random.Generator, n: int, direction: np.ndarray) -> None:
    gtscore = _smooth_scores(rng, n)
    inclusive = _shots(rng, n)
    features = 0.4 + 0.05 * rng.standard_normal((n, FEATURE_DIM), dtype=np.float32)
    features += (gtscore[:, None] - 0.5) * direction[None, :]
    group = h5.create_group(key)
    group.create_dataset("features", data=np.maximum(features, 0).astype(np.float32))
    group.create_dataset("gtscore", data=gtscore)
    group.create_dataset("change_points", data=real_file_rows(inclusive))
    group.create_dataset("gt_summary", data=mrhisum_summary(gtscore, inclusive))


def make_mrhisum_like(out_dir: str | Path, n_videos: int = 30, min_steps: int = 20, max_steps: int = 120,
                      seed: int = 0, h5_name: str = "mr_hisum.h5",
                      split_name: str = "mr_hisum_split.json") -> tuple[Path, Path]:
    """Write ``h5_name`` and its split file (70 % train, 15 % val, 15 % test) into ``out_dir``."""
    if n_videos < 3 or not 1 <= min_steps <= max_steps:
        raise ValueError("need n_videos >= 3 and 1 <= min_steps <= max_steps")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    direction = (0.3 * rng.standard_normal(FEATURE_DIM) / np.sqrt(FEATURE_DIM) * 8).astype(np.float32)
    ids = rng.choice(40000, size=n_videos, replace=False)
    keys = [f"video_{i}" for i in ids]
    h5_path = out_dir / h5_name

    def write(file) -> None:
        with h5py.File(file, "w") as h5:
            for key in keys:
                write_video(h5, key, rng, int(rng.integers(min_steps, max_steps + 1)), direction)

    write_atomically(h5_path, write, mode="w+b")
    order = rng.permutation(n_videos)
    n_val = n_test = max(1, round(0.15 * n_videos))
    split = {"train_keys": [keys[i] for i in order[n_val + n_test:]],
             "val_keys": [keys[i] for i in order[:n_val]],
             "test_keys": [keys[i] for i in order[n_val: n_val + n_test]]}
    split_path = out_dir / split_name
    write_json_atomically(split_path, split)
    return h5_path, split_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.mrhisum",
                                     description="Write a synthetic dataset in Mr.HiSum's h5 schema.")
    parser.add_argument("out_dir")
    from demo import whole_number

    parser.add_argument("--videos", type=whole_number, default=30)
    parser.add_argument("--min-steps", type=whole_number, default=20)
    parser.add_argument("--max-steps", type=whole_number, default=120)
    parser.add_argument("--seed", type=whole_number, default=0)
    args = parser.parse_args(argv)
    if not args.out_dir.strip():
        parser.error("out_dir: an empty path")
    from demo import write_and_list

    return write_and_list(lambda: make_mrhisum_like(args.out_dir, args.videos, args.min_steps, args.max_steps,
                                                    args.seed))


if __name__ == "__main__":
    sys.exit(main())
