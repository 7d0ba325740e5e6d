"""From per-step importance scores to a binary keyshot summary.

The pipeline is the one every eccv16-h5 method (and CSTA) uses:

1. *frame scores*: step ``i`` was sampled at frame ``picks[i]`` and its score
   covers the frames ``picks[i] .. picks[i+1]-1``; the last step covers the
   frames up to the end of the video.  Frames before ``picks[0]`` score 0.
   Scores are stored in float32 as the original does, so two steps whose
   float64 scores round to the same float32 value tie, exactly as there.
2. *shot scores*: the mean frame score of each shot (``change_points`` rows are
   inclusive ``[first, last]`` frame pairs), computed with numpy's float32
   ``mean`` on each shot slice so that the values are bit-identical to the
   original's (its knapsack tie-breaking depends on them).
3. *knapsack*: shots are weighted by their length in frames and the budget is
   ``int((last_frame_of_last_shot + 1) * proportion)`` frames.
4. the frames of the chosen shots form the summary.
"""

from __future__ import annotations

import numpy as np

from .knapsack import knapsack

__all__ = [
    "frame_scores",
    "shot_scores",
    "shot_lengths",
    "summary_budget",
    "select_keyshots",
    "keyshot_summary",
]


def _as_int_vector(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        as_int = arr.astype(np.int64)
        if not np.array_equal(as_int, arr):
            raise ValueError(f"{name} must hold whole frame numbers")
        arr = as_int
    return arr.astype(np.int64)


def _as_change_points(change_points) -> np.ndarray:
    cps = np.asarray(change_points)
    if cps.ndim != 2 or cps.shape[1] != 2 or cps.shape[0] == 0:
        raise ValueError(
            f"change_points must have shape (n_shots, 2) with at least one shot, got {cps.shape}"
        )
    if not np.issubdtype(cps.dtype, np.integer):
        as_int = cps.astype(np.int64)
        if not np.array_equal(as_int, cps):
            raise ValueError("change_points must hold whole frame numbers")
        cps = as_int
    cps = cps.astype(np.int64)
    if np.any(cps[:, 0] < 0) or np.any(cps[:, 1] < cps[:, 0]):
        raise ValueError("every change_points row must be [first, last] with 0 <= first <= last")
    return cps


def frame_scores(step_scores, picks, n_frames) -> np.ndarray:
    """Spread per-step scores over the frames: float32 array of length ``n_frames``.

    ``step_scores`` needs exactly one score per entry of ``picks``; ``picks``
    must be strictly increasing frame numbers in ``[0, n_frames]``.  (If the
    last pick equals ``n_frames`` its step covers no frame, as in the original.)
    """
    n_frames = int(n_frames)
    if n_frames <= 0:
        raise ValueError(f"n_frames must be positive, got {n_frames}")
    scores = np.asarray(step_scores, dtype=np.float64).reshape(-1)
    picks = _as_int_vector(picks, "picks")
    if picks.size == 0:
        raise ValueError("picks is empty")
    if scores.size != picks.size:
        raise ValueError(
            f"expected one score per pick: {picks.size} picks but {scores.size} scores"
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite numbers (no NaN or inf)")
    if picks[0] < 0 or picks[-1] > n_frames or np.any(np.diff(picks) <= 0):
        raise ValueError(
            f"picks must be strictly increasing frame numbers within [0, {n_frames}]"
        )

    bounds = picks if picks[-1] == n_frames else np.append(picks, n_frames)
    covered = np.diff(bounds)
    out = np.zeros(n_frames, dtype=np.float32)
    out[bounds[0]: bounds[-1]] = np.repeat(scores[: covered.size].astype(np.float32), covered)
    return out


def shot_lengths(change_points) -> np.ndarray:
    """Length in frames of each shot (inclusive ends)."""
    cps = _as_change_points(change_points)
    return cps[:, 1] - cps[:, 0] + 1


def shot_scores(frame_scores, change_points) -> np.ndarray:
    """Mean frame score of every shot, as float64 holding the float32 means.

    Shots that run past the end of ``frame_scores`` are averaged over the frames
    that exist (the original does the same); a shot that starts after the last
    frame has no score and is an error.
    """
    frames = np.asarray(frame_scores)
    cps = _as_change_points(change_points)
    if np.any(cps[:, 0] >= frames.size):
        bad = int(np.argmax(cps[:, 0] >= frames.size))
        raise ValueError(
            f"change_points row {bad} starts at frame {int(cps[bad, 0])}, "
            f"past the last frame ({frames.size - 1})"
        )
    # One numpy mean per shot: the float32 pairwise summation has to be the
    # same as the original's for its knapsack to break ties the same way.
    return np.array([frames[s: e + 1].mean().item() for s, e in cps], dtype=np.float64)


def summary_budget(change_points, proportion: float = 0.15) -> int:
    """Knapsack capacity in frames: ``int((last frame of the last shot + 1) * proportion)``."""
    cps = _as_change_points(change_points)
    return int((int(cps[-1, 1]) + 1) * float(proportion))


def select_keyshots(step_scores, change_points, n_frames, picks, proportion: float = 0.15):
    """Keyshot summary and the indices of the chosen shots.

    Returns ``(summary, selected)``: ``summary`` is a uint8 0/1 array with one
    entry per frame (``n_frames`` long, or up to the last shot's last frame if
    ``change_points`` runs past ``n_frames``); ``selected`` holds the ascending
    indices of the chosen rows of ``change_points``.
    """
    cps = _as_change_points(change_points)
    fs = frame_scores(step_scores, picks, n_frames)
    values = shot_scores(fs, cps)
    selected = knapsack(values, shot_lengths(cps), summary_budget(cps, proportion))

    summary = np.zeros(max(int(n_frames), int(cps[-1, 1]) + 1), dtype=np.uint8)
    for s, e in cps[selected]:
        summary[s: e + 1] = 1
    return summary, selected


def keyshot_summary(step_scores, change_points, n_frames, picks, proportion: float = 0.15) -> np.ndarray:
    """Binary (uint8 0/1) keyshot summary, one entry per frame.  See :func:`select_keyshots`."""
    return select_keyshots(step_scores, change_points, n_frames, picks, proportion)[0]
