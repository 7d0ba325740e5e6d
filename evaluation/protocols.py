"""The evaluation protocols a dataset can be scored under, as values: the metrics each reports and how.

* ``SumMe`` / ``TVSum``: CSTA's eccv16 protocol (:func:`evaluation.evaluate_video`): F1 against every
  user summary (max over users for SumMe, mean for TVSum), and CSTA's Kendall tau / Spearman rho.
* ``MrHiSum``: Mr.HiSum's protocol (:func:`evaluation.mrhisum.evaluate_mrhisum_video`): F1 against
  ``gt_summary``, mAP@50 and mAP@15 over 5-step clips, and SummDiff's tau / rho against ``gtscore``.

Each protocol declares its metrics (name, column header, display, direction), the ones a results table
reports, the column to call "F1", its h5 layout and summary budget, and whether it needs TVSum's
annotations. Training, selection, inference and ``python -m evaluation`` ask the protocol; none of them
branches on a dataset's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from storage.notices import concerning, video_subject

from .mrhisum import evaluate_mrhisum_video
from .protocol import evaluate_video
from .summary import summary_budget

__all__ = ["Metric", "Protocol", "PROTOCOLS", "evaluate_record", "get_protocol"]


@dataclass(frozen=True)
class Metric:
    """One metric a protocol reports: its column header, how it is shown and which way is better."""

    name: str
    header: str
    percent: bool = False               #: a percentage (the F-scores), shown with one decimal
    higher_is_better: bool = True

    def format(self, value: float) -> str:
        if value != value:                                  # NaN, on request
            return "nan"
        return f"{value:.1f}" if self.percent else f"{value:.3f}"


@dataclass(frozen=True)
class Protocol:
    """How one dataset's videos are scored."""

    name: str
    declared: tuple[Metric, ...]        #: per-video metrics, in table order
    f1: str                             #: the metric the literature reports as this dataset's F1
    f1_meaning: str                     #: how that F1 compares a summary with the ground truth
    reported: tuple[str, ...]           #: the columns of a results table ("f1": the literature's F1)
    schema: str                         #: the h5 layout its videos come in (a key of dataset.SCHEMAS)
    needs_annotations: bool             #: TVSum: tau/rho read the annotators' raw scores
    needs_gtscore: bool                 #: the metrics read ``gtscore`` (Mr.HiSum)
    needs_features: bool                #: its h5 files always hold features (Mr.HiSum's layout)
    budget: Callable[[Any], int]        #: a video's summary budget (frames or steps)
    _score: Callable[..., Any]

    @property
    def metrics(self) -> tuple[str, ...]:
        """The per-video metrics' names, in table order."""
        return tuple(m.name for m in self.declared)

    def metric(self, name: str) -> Metric:
        """A declared metric, or ``f1``: the literature's F1 for this dataset."""
        for metric in self.declared:
            if metric.name == name:
                return metric
        if name == "f1":
            return Metric("f1", "F1", percent=True)
        raise KeyError(f"{self.name} has no metric {name!r}: expected one of {', '.join(self.metrics)}")

    @property
    def headers(self) -> dict[str, str]:
        """Metric -> column header."""
        return {m.name: m.header for m in self.declared}

    def evaluate(self, video, scores, annotations=None, undefined_correlation: float = 0.0):
        """One video's metrics: an object with ``as_dict()`` (metrics and ``summary_frames``) and ``summary``.

        ``video``: anything with the h5 fields (``change_points``, ``n_frames``, ``picks``,
        ``user_summary``, ``gtscore``), e.g. a :class:`dataset.VideoRecord`.
        """
        with concerning(video_subject(video)):
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


_CORRELATIONS = (Metric("kendall", "Kendall tau"), Metric("spearman", "Spearman rho"))
_ECCV16_METRICS = (*_CORRELATIONS, Metric("f1_max", "F1 max", percent=True), Metric("f1_avg", "F1 avg", percent=True))


def _eccv16_budget(video) -> int:
    return summary_budget(video.change_points)


def _mrhisum_budget(video) -> int:
    return int(np.floor(video.n_steps * 0.15))


PROTOCOLS: dict[str, Protocol] = {
    "SumMe": Protocol("SumMe", _ECCV16_METRICS, "f1_max", "best user", ("kendall", "spearman", "f1"), schema="eccv16",
                      needs_annotations=False, needs_gtscore=False, needs_features=False, budget=_eccv16_budget,
                      _score=_eccv16("SumMe")),
    "TVSum": Protocol("TVSum", _ECCV16_METRICS, "f1_avg", "mean over users", ("kendall", "spearman", "f1"), schema="eccv16",
                      needs_annotations=True, needs_gtscore=False, needs_features=False, budget=_eccv16_budget,
                      _score=_eccv16("TVSum")),
    "MrHiSum": Protocol("MrHiSum", (*_CORRELATIONS, Metric("f1", "F1", percent=True), Metric("map50", "mAP@50"),
                                    Metric("map15", "mAP@15")), "f1", "against gt_summary", ("kendall", "spearman", "f1", "map50", "map15"),
                        schema="mrhisum", needs_annotations=False, needs_gtscore=True, needs_features=True,
                        budget=_mrhisum_budget, _score=_mrhisum),
}


def evaluate_record(protocol: Protocol, record, scores, annotations=None) -> dict[str, float]:
    """One video's per-step scores under ``protocol``: its metrics and summary length, as a plain dict.

    ``record``: the video's h5 fields (a :class:`dataset.VideoRecord`); ``annotations``: its annotators'
    raw scores when the protocol needs them (TVSum), else None.
    """
    return protocol.evaluate(record, scores, annotations).as_dict()


def get_protocol(name: str) -> Protocol:
    """The protocol for any capitalisation of its name; ValueError naming the known ones otherwise."""
    for known, protocol in PROTOCOLS.items():
        if str(name).lower() == known.lower():
            return protocol
    raise ValueError(f"unknown protocol {name!r}: expected one of {', '.join(PROTOCOLS)}")
