"""The Mr.HiSum protocol (Sul et al., NeurIPS 2023), as its repository's ``Solver.evaluate`` computes it.

Per video, from one score per step (Mr.HiSum samples one step per second and scores every step):

* **F1** (percent): the knapsack keyshot summary at 15 % of the steps over ``change_points``, against
  the single ``gt_summary`` ('avg' over one user). Two details of the reference are kept: the budget
  is ``floor(0.15 n)`` and a shot's value is the mean score over its steps *and the first step of
  the next shot* (the reference slices ``[start, end + 1)`` with Mr.HiSum's exclusive ``end``).
* **mAP@50 / mAP@15**: the steps are cut into clips of 5 (the last one shorter); the clips whose
  mean ``gtscore`` is in the top 50 % / top 15 % are the positives; the prediction ranks the clips
  by the softmax of their mean score; average precision is scikit-learn's.
* **Kendall tau / Spearman rho** against ``gtscore``, as SummDiff reports them for Mr.HiSum.

Only numpy, scipy and scikit-learn; the reference numbers are reproduced to 1e-6 (tests/test_mrhisum.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .knapsack import knapsack
from .metrics import rank_correlations

__all__ = ["MrHiSumScores", "evaluate_mrhisum_video", "clip_means", "top_clips", "summary_f1",
           "mrhisum_summary", "CLIP_STEPS"]

#: Steps per highlight clip (Mr.HiSum's ``uniform_clip``).
CLIP_STEPS = 5


@dataclass(frozen=True)
class MrHiSumScores:
    """One video's Mr.HiSum metrics: F1 in percent, mAPs and correlations in [-1, 1]."""

    f1: float
    map50: float
    map15: float
    kendall: float
    spearman: float
    summary: np.ndarray = field(repr=False)

    @property
    def summary_frames(self) -> int:
        return int(np.count_nonzero(self.summary))

    def as_dict(self) -> dict:
        return {"f1": self.f1, "map50": self.map50, "map15": self.map15, "kendall": self.kendall,
                "spearman": self.spearman, "summary_frames": self.summary_frames}


def mrhisum_summary(step_scores, change_points, proportion: float = 0.15) -> np.ndarray:
    """The keyshot summary (float32 0/1, one entry per step) of Mr.HiSum's ``generate_summary``.

    ``change_points``: (S, 2) inclusive ``[first, last]`` steps tiling ``0 .. n-1`` (this project's
    convention; Mr.HiSum's file stores ``last + 1``).
    """
    scores = np.asarray(step_scores, dtype=np.float32).reshape(-1)
    cps = np.asarray(change_points, dtype=np.int64)
    n = scores.size
    lengths = cps[:, 1] - cps[:, 0] + 1
    # [first, last + 2): the reference's slice with its exclusive end, i.e. one step into the next shot.
    values = np.array([float(scores[first: last + 2].mean()) for first, last in cps], dtype=np.float64)
    chosen = knapsack(values, lengths, int(np.floor(n * proportion)))
    summary = np.zeros(n, dtype=np.float32)
    for first, last in cps[chosen]:
        summary[first: last + 1] = 1
    return summary


def summary_f1(summary, gt_summary) -> float:
    """F1 in percent of one binary summary against one binary ground truth, as Mr.HiSum computes it.

    Both are zero-padded to the longer length; precision and recall divide by ``sum(x + 1e-8)``,
    so a perfect summary scores 99.99999... and two empty summaries score 0.
    """
    predicted = np.asarray(summary).astype(np.int64).reshape(-1)
    truth = np.asarray(gt_summary).astype(np.int64).reshape(-1)
    length = max(predicted.size, truth.size)
    s = np.zeros(length, dtype=np.int64)
    g = np.zeros(length, dtype=np.int64)
    s[: predicted.size] = predicted
    g[: truth.size] = truth
    overlap = float(np.sum(s & g))
    precision = overlap / float(np.sum(s + 1e-8))
    recall = overlap / float(np.sum(g + 1e-8))
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall * 100 / (precision + recall)


def clip_means(step_values, clip: int = CLIP_STEPS) -> np.ndarray:
    """float32 mean of every run of ``clip`` steps (the last run may be shorter)."""
    values = np.asarray(step_values, dtype=np.float32).reshape(-1)
    return np.array([values[i: i + clip].mean(dtype=np.float32) for i in range(0, values.size, clip)],
                    dtype=np.float32)


def top_clips(clip_values, fraction: float) -> np.ndarray:
    """0/1 labels of the clips in the top ``fraction`` (``len // 2`` for 50 %, ``int(len * 0.15)`` for 15 %).

    Ties are broken towards the earlier clip (a stable sort; the reference's torch sort is unstable).
    """
    values = np.asarray(clip_values)
    count = values.size // 2 if fraction == 0.5 else int(values.size * fraction)
    order = np.argsort(-values, kind="stable")
    labels = np.zeros(values.size, dtype=np.int64)
    labels[order[:count]] = 1
    return labels


def _average_precision(labels: np.ndarray, ranking: np.ndarray) -> float:
    """scikit-learn's average precision; 0 when there is no positive clip (short videos)."""
    if not labels.any():
        return 0.0
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(labels, ranking))


def evaluate_mrhisum_video(step_scores, *, gtscore, change_points, gt_summary,
                           undefined_correlation: float = 0.0) -> MrHiSumScores:
    """Score one video's per-step predictions under Mr.HiSum's protocol (see the module docstring).

    ``undefined_correlation``: reported where tau/rho are undefined (a constant prediction or
    ``gtscore``); ``float('nan')`` gives the reference's NaN.
    """
    scores = np.asarray(step_scores, dtype=np.float64).reshape(-1)
    truth = np.asarray(gtscore, dtype=np.float32).reshape(-1)
    if scores.size != truth.size:
        raise ValueError(f"scores: {scores.size} values but gtscore has {truth.size} steps")
    summary = mrhisum_summary(scores, change_points)
    f1 = summary_f1(summary, gt_summary)

    gt_clips = clip_means(truth)
    predicted = clip_means(scores.astype(np.float32))
    with np.errstate(over="ignore"):
        exponentials = np.exp(predicted)
    if not np.all(np.isfinite(exponentials)):       # clip means above ~88 overflow float32: shift (same order)
        exponentials = np.exp(predicted - predicted.max())
    ranking = exponentials / (exponentials.sum(dtype=np.float32) + np.float32(1e-7))
    map50 = _average_precision(top_clips(gt_clips, 0.5), ranking)
    map15 = _average_precision(top_clips(gt_clips, 0.15), ranking)

    # SummDiff: tau over the negated ranks (the same tau-b), rho over the values themselves.
    kendall, spearman = rank_correlations(scores.astype(np.float32).astype(np.float64), truth.astype(np.float64),
                                          undefined=undefined_correlation)
    return MrHiSumScores(f1=f1, map50=map50, map15=map15, kendall=kendall, spearman=spearman, summary=summary)
