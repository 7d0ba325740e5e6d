"""CSTA's video-summarisation evaluation protocol, usable on any method's predictions.

Pure numpy/scipy functions (no torch): keyshot summaries by an exact knapsack,
F1 against user summaries, Kendall tau-b / Spearman rho as CSTA computes them,
the TVSum annotations and SumMe's ground truth.  ``python -m evaluation``
scores a JSON file of per-step predictions; ``python -m evaluation.human_agreement``
prints how well TVSum's annotators and SumMe's users agree with each other.
See ``docs/evaluation.md``.
"""

from .annotations import default_annotations_path, load_tvsum_annotations, step_annotations
from .knapsack import knapsack
from .metrics import (
    UndefinedCorrelationWarning,
    f1_against_users,
    rank_correlations,
    rank_correlations_many,
)
from .protocol import VideoScores, evaluate_video, mean_scores
from .summary import frame_scores, keyshot_summary, select_keyshots, shot_scores

__all__ = [
    "keyshot_summary",
    "select_keyshots",
    "frame_scores",
    "shot_scores",
    "knapsack",
    "f1_against_users",
    "rank_correlations",
    "rank_correlations_many",
    "UndefinedCorrelationWarning",
    "load_tvsum_annotations",
    "default_annotations_path",
    "step_annotations",
    "evaluate_video",
    "VideoScores",
    "mean_scores",
]
