"""Leave-one-out agreement of TVSum's annotators (Otani et al., CVPR 2019).

Each annotator's frame scores are compared with every other annotator's of the
same video (Kendall tau-b and Spearman rho, full frame rate); the values are
averaged over the other annotators, then over annotators, then over videos.
On the TVSum annotations this gives tau = 0.177, rho = 0.204: the level a
predicted ranking has to reach to agree with people as well as they agree with
each other.

Usage: ``python -m evaluation.human_agreement [--annotations FILE] [--json]``
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from .annotations import default_annotations_path, load_tvsum_annotations
from .metrics import MAX_LEVELS, pairwise_rank_correlations

__all__ = ["video_agreement", "human_agreement", "main"]


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.human_agreement",
        description="Leave-one-out Kendall tau-b / Spearman rho agreement of TVSum's annotators.",
    )
    parser.add_argument(
        "--annotations",
        default=None,
        help=f"ydata-anno.tsv, plain or gzipped (default: {default_annotations_path()})",
    )
    parser.add_argument("--json", action="store_true", help='end with a line {"kendall": x, "spearman": y}')
    args = parser.parse_args(argv)

    try:
        annotations = load_tvsum_annotations(args.annotations)
        tau, rho, per_video = human_agreement(annotations)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    n_users = sorted({raw.shape[0] for raw in annotations.values()})
    print(
        f"TVSum human agreement: {len(per_video)} videos, "
        f"{'/'.join(map(str, n_users))} annotators each, full frame rate, leave-one-out"
    )
    print(f"Kendall tau-b: {tau:.3f}")
    print(f"Spearman rho:  {rho:.3f}")
    if args.json:
        print(json.dumps({"kendall": tau, "spearman": rho}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
