"""How well people agree with each other: the ceiling a method is read against.

TVSum (Otani et al., CVPR 2019): each annotator's frame scores are compared
with every other annotator's of the same video (Kendall tau-b and Spearman
rho, full frame rate); the values are averaged over the other annotators, then
over annotators, then over videos. On the TVSum annotations this gives
tau = 0.177, rho = 0.204: the level a predicted ranking has to reach to agree
with people as well as they agree with each other.

SumMe: each user's keyshot summary (``user_score > 0``, full frame rate) is
scored against every other user's with the protocol's F1 (percent,
:func:`evaluation.metrics.f1_against_users`); per user, the mean and the max
over the other users, averaged over users, then over videos. On SumMe's
official ground truth (``data/summe_gt/``) this gives F1 = 31.1 (mean over the
others) and 54.3 (max over the others): the F1 of a summary that agrees with
the users as well as they agree with each other, under the mean over users and
SumMe's convention (the max).

Usage: ``python -m evaluation.human_agreement [--dataset TVSum|SumMe] [--annotations FILE]
[--summe-gt DIR] [--json]``
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from .annotations import default_annotations_path, load_tvsum_annotations
from .metrics import MAX_LEVELS, f1_against_users, pairwise_rank_correlations
from .summe_gt import default_summe_gt_path, load_summe_gt

__all__ = ["video_agreement", "human_agreement", "summe_video_agreement", "summe_human_agreement", "main"]


def video_agreement(raw) -> tuple[float, float]:
    """Mean leave-one-out (tau, rho) of one video's (n_annotators, n_frames) scores.

    Pairs whose correlation is undefined (a constant annotator) are left out of
    the means.
    """
    raw = np.asarray(raw, dtype=np.float64)
    n_users = raw.shape[0]
    if n_users < 2:
        raise ValueError("agreement needs at least two annotators")
    levels, codes = np.unique(raw, return_inverse=True)
    codes = codes.reshape(raw.shape)
    if levels.size > MAX_LEVELS:
        raise ValueError(
            f"annotator scores take {levels.size} distinct values; "
            f"at most {MAX_LEVELS} (ratings) are supported"
        )
    tau, rho = pairwise_rank_correlations(codes, levels.size)
    off = ~np.eye(n_users, dtype=bool)
    per_user_tau = np.nanmean(np.where(off, tau, np.nan), axis=1)
    per_user_rho = np.nanmean(np.where(off, rho, np.nan), axis=1)
    return float(np.nanmean(per_user_tau)), float(np.nanmean(per_user_rho))


def human_agreement(annotations) -> tuple[float, float, dict[str, tuple[float, float]]]:
    """``(tau, rho, per_video)`` over all videos of a ``load_tvsum_annotations`` dict."""
    per_video = {key: video_agreement(raw) for key, raw in annotations.items()}
    tau = float(np.mean([v[0] for v in per_video.values()]))
    rho = float(np.mean([v[1] for v in per_video.values()]))
    return tau, rho, per_video


def summe_video_agreement(selections) -> tuple[float, float]:
    """Leave-one-out F1 (percent) of one video's (n_users, n_frames) keyshot selections (non-zero: selected).

    Each user's selection is scored against every other user's with the
    protocol's F1; per user the mean and the max over the others are taken.
    Returns ``(mean over the others, max over the others)``, each averaged over
    users.  A pair without any common frame (an empty selection included)
    scores 0, as in the protocol.
    """
    users = np.asarray(selections)
    if users.ndim != 2:
        raise ValueError(f"selections must have shape (n_users, n_frames), got {users.shape}")
    n_users = users.shape[0]
    if n_users < 2:
        raise ValueError("agreement needs at least two users")
    means, maxima = np.empty(n_users), np.empty(n_users)
    for user in range(n_users):
        others = np.delete(users, user, axis=0)
        maxima[user], means[user] = f1_against_users(users[user], others)
    return float(means.mean()), float(maxima.mean())


def summe_human_agreement(videos) -> tuple[float, float, dict[str, tuple[float, float]]]:
    """``(mean F1, max F1, per_video)`` over the videos of ``{name: (n_users, n_frames) selections}`` (or
    :func:`evaluation.summe_gt.load_summe_gt`'s ``{name: SummeTruth}``)."""
    per_video = {name: summe_video_agreement(getattr(value, "selections", value)) for name, value in videos.items()}
    if not per_video:
        raise ValueError("agreement needs at least one video")
    mean = float(np.mean([v[0] for v in per_video.values()]))
    best = float(np.mean([v[1] for v in per_video.values()]))
    return mean, best, per_video


def _tvsum(path) -> dict:
    annotations = load_tvsum_annotations(path)
    tau, rho, per_video = human_agreement(annotations)
    n_users = sorted({raw.shape[0] for raw in annotations.values()})
    print(
        f"TVSum human agreement: {len(per_video)} videos, "
        f"{'/'.join(map(str, n_users))} annotators each, full frame rate, leave-one-out"
    )
    print(f"Kendall tau-b: {tau:.3f}")
    print(f"Spearman rho:  {rho:.3f}")
    return {"kendall": tau, "spearman": rho}


def _summe(path) -> dict:
    truths = load_summe_gt(path)
    mean, best, per_video = summe_human_agreement(truths)
    counts = sorted({truth.selections.shape[0] for truth in truths.values()})
    users = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    print(
        f"SumMe human agreement: {len(per_video)} videos, {users} users each, full frame rate, "
        "leave-one-out keyshot F1 (%)"
    )
    print(f"F1, mean over the other users: {mean:.1f}")
    print(f"F1, max over the other users:  {best:.1f}")
    return {"f1_mean": mean, "f1_max": best}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.human_agreement",
        description="How well people agree with each other: TVSum's annotators (leave-one-out Kendall tau-b / "
        "Spearman rho) and SumMe's users (leave-one-out keyshot F1, mean and max over the other users).",
    )
    parser.add_argument(
        "--dataset",
        choices=["TVSum", "SumMe"],
        action="append",
        help="the dataset(s) to measure (repeatable; default: both)",
    )
    parser.add_argument(
        "--annotations",
        default=None,
        help=f"TVSum: ydata-anno.tsv, plain or gzipped (default: {default_annotations_path()})",
    )
    parser.add_argument(
        "--summe-gt",
        default=None,
        metavar="DIR",
        help=f"SumMe: a folder of the official GT/NAME.mat files (default: {default_summe_gt_path()})",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='end with a line of the figures: {"kendall": x, "spearman": y} for TVSum, '
        '{"f1_mean": x, "f1_max": y} for SumMe (both: one object with the four keys)',
    )
    args = parser.parse_args(argv)
    datasets = args.dataset or ["TVSum", "SumMe"]

    figures = {}
    try:
        if "TVSum" in datasets:
            figures.update(_tvsum(args.annotations))
        if "SumMe" in datasets:
            figures.update(_summe(args.summe_gt))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
