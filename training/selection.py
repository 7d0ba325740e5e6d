"""Which epoch's weights a split keeps."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable


#: The F1 each dataset's literature reports: best-matching user (SumMe), mean over users (TVSum).
F1_CONVENTION = {"SumMe": "f1_max", "TVSum": "f1_avg"}


@dataclass(frozen=True)
class EpochMetrics:
    """Means over a split's test videos after one epoch."""

    epoch: int
    loss: float
    kendall: float
    spearman: float
    f1_max: float
    f1_avg: float
    f1: float           #: the dataset's convention: f1_max for SumMe, f1_avg for TVSum

    def as_dict(self) -> dict:
        return asdict(self)


def _both_correlations_improve(best: EpochMetrics | None, current: EpochMetrics) -> bool:
    """The original's rule: mean tau AND mean rho both above the best so far (which starts at -1)."""
    best_kendall, best_spearman = (-1.0, -1.0) if best is None else (best.kendall, best.spearman)
    return current.kendall > best_kendall and current.spearman > best_spearman


def _f1_improves(best: EpochMetrics | None, current: EpochMetrics) -> bool:
    return current.f1 > (-1.0 if best is None else best.f1)


def _always(best: EpochMetrics | None, current: EpochMetrics) -> bool:
    return True


#: ``selection`` option -> whether the current epoch replaces the kept one.
SELECTION_RULES: dict[str, Callable[[EpochMetrics | None, EpochMetrics], bool]] = {
    "kendall_and_spearman": _both_correlations_improve,
    "f1": _f1_improves,
    "last": _always,
}
