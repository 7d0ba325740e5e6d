"""The evaluation protocols a dataset can be scored under, as values: the metrics each reports and how.

* ``SumMe`` / ``TVSum``: CSTA's eccv16 protocol (:func:`evaluation.evaluate_video`): F1 against every
  user summary (max over users for SumMe, mean for TVSum), and CSTA's Kendall tau / Spearman rho.
* ``MrHiSum``: Mr.HiSum's protocol (:func:`evaluation.mrhisum.evaluate_mrhisum_video`): F1 against
  ``gt_summary``, mAP@50 and mAP@15 over 5-step clips, and SummDiff's tau / rho against ``gtscore``.

Training, inference and ``python -m evaluation`` ask the protocol for its metrics, the column to
call "F1" and whether it needs TVSum's annotations; none of them branches on a dataset's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .mrhisum import evaluate_mrhisum_video
from .protocol import evaluate_video

__all__ = ["Protocol", "PROTOCOLS", "get_protocol"]


@dataclass(frozen=True)
class Protocol:
    """How one dataset's videos are scored."""

    name: str
    metrics: tuple[str, ...]            #: per-video metrics, in table order
    f1: str                             #: the metric the literature reports as this dataset's F1
    headers: dict[str, str]             #: metric -> column header
    needs_annotations: bool             #: TVSum: tau/rho read the annotators' raw scores
    needs_gtscore: bool                 #: the metrics read ``gtscore`` (Mr.HiSum)
    _score: Callable[..., Any]

    def evaluate(self, video, scores, annotations=None, undefined_correlation: float = 0.0):
        """One video's metrics: an object with ``as_dict()`` (metrics and ``summary_frames``) and ``summary``.

        ``video``: anything with the h5 fields (``change_points``, ``n_frames``, ``picks``,
        ``user_summary``, ``gtscore``), e.g. a :class:`dataset.VideoRecord`.
        """
        return self._score(video, np.asarray(scores, dtype=np.float64), annotations, undefined_correlation)

    def means(self, videos) -> dict[str, float]:
        """Mean of every metric over videos (results of :meth:`evaluate` or their ``as_dict()``), plus ``f1``."""
        rows = [v if isinstance(v, dict) else v.as_dict() for v in videos]
        if not rows:
            raise ValueError("no videos to average")
        means = {m: float(np.mean([row[m] for row in rows])) for m in self.metrics}
        means["f1"] = means[self.f1]
        return means


def _eccv16(dataset: str) -> Callable[..., Any]:
    def score(video, scores, annotations, undefined):
        return evaluate_video(dataset, scores, change_points=video.change_points, n_frames=video.n_frames,
                              picks=video.picks, user_summary=video.user_summary, annotations=annotations,
                              undefined_correlation=undefined)
    return score


def _mrhisum(video, scores, annotations, undefined):
    return evaluate_mrhisum_video(scores, gtscore=video.gtscore, change_points=video.change_points,
                                  gt_summary=np.asarray(video.user_summary).reshape(-1),
                                  undefined_correlation=undefined)


_ECCV16_HEADERS = {"kendall": "Kendall tau", "spearman": "Spearman rho", "f1_max": "F1 max", "f1_avg": "F1 avg"}

PROTOCOLS: dict[str, Protocol] = {
    "SumMe": Protocol("SumMe", ("kendall", "spearman", "f1_max", "f1_avg"), "f1_max", _ECCV16_HEADERS,
                      needs_annotations=False, needs_gtscore=False, _score=_eccv16("SumMe")),
    "TVSum": Protocol("TVSum", ("kendall", "spearman", "f1_max", "f1_avg"), "f1_avg", _ECCV16_HEADERS,
                      needs_annotations=True, needs_gtscore=False, _score=_eccv16("TVSum")),
    "MrHiSum": Protocol("MrHiSum", ("kendall", "spearman", "f1", "map50", "map15"), "f1",
                        {"kendall": "Kendall tau", "spearman": "Spearman rho", "f1": "F1",
                         "map50": "mAP@50", "map15": "mAP@15"},
                        needs_annotations=False, needs_gtscore=True, _score=_mrhisum),
}


def get_protocol(name: str) -> Protocol:
    """The protocol for any capitalisation of its name; ValueError naming the known ones otherwise."""
    for known, protocol in PROTOCOLS.items():
        if str(name).lower() == known.lower():
            return protocol
    raise ValueError(f"unknown protocol {name!r}: expected one of {', '.join(PROTOCOLS)}")
