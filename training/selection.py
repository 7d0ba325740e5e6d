"""Which epoch's weights a split keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class EpochMetrics:
    """Means over a split's selection videos after one epoch (the test videos, unless the split has validation ones).

    ``f1`` is the dataset's convention (F1 max for SumMe, F1 avg for TVSum, Mr.HiSum's F1); ``extra``
    holds the protocol's other metrics (``f1_max``/``f1_avg``, ``map50``/``map15``).
    """

    epoch: int
    loss: float
    kendall: float
    spearman: float
    f1: float
    extra: Mapping[str, float] = field(default_factory=dict)

    def value(self, name: str) -> float:
        return self.extra[name] if name in self.extra else getattr(self, name)

    def as_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "loss": self.loss, "kendall": self.kendall, "spearman": self.spearman,
                "f1": self.f1, **self.extra}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "EpochMetrics":
        core = {"epoch", "loss", "kendall", "spearman", "f1"}
        return cls(**{k: values[k] for k in core},
                   extra={k: v for k, v in values.items() if k not in core and isinstance(v, (int, float))
                          and not isinstance(v, bool)})

    @classmethod
    def from_means(cls, epoch: int, loss: float, means: Mapping[str, float]) -> "EpochMetrics":
        """From a protocol's means (which include ``f1``, the convention)."""
        return cls(epoch=epoch, loss=loss, kendall=means["kendall"], spearman=means["spearman"], f1=means["f1"],
                   extra={k: v for k, v in means.items() if k not in ("kendall", "spearman", "f1")})


def _both_correlations_improve(best: EpochMetrics | None, current: EpochMetrics) -> bool:
    """The original's rule: mean tau AND mean rho both above the best so far (which starts at -1)."""
    best_kendall, best_spearman = (-1.0, -1.0) if best is None else (best.kendall, best.spearman)
    return current.kendall > best_kendall and current.spearman > best_spearman


def _always(best: EpochMetrics | None, current: EpochMetrics) -> bool:
    return True


def metric_improves(metric: str, higher_is_better: bool = True) -> Callable[[EpochMetrics | None, EpochMetrics], bool]:
    """Keep the epoch when ``metric`` beats the best so far (which starts at -1, or +inf when lower is better)."""
    def rule(best: EpochMetrics | None, current: EpochMetrics) -> bool:
        if not higher_is_better:
            return current.value(metric) < (float("inf") if best is None else best.value(metric))
        return current.value(metric) > (-1.0 if best is None else best.value(metric))
    rule.__name__ = f"{metric}_improves"
    return rule


#: The named rules; any metric of the dataset's protocol (``f1``, ``map50``, ...) also names a rule.
SELECTION_RULES: dict[str, Callable[[EpochMetrics | None, EpochMetrics], bool]] = {
    "kendall_and_spearman": _both_correlations_improve,
    "f1": metric_improves("f1"),
    "last": _always,
}


def selection_rule(name: str, protocol) -> Callable[[EpochMetrics | None, EpochMetrics], bool]:
    """The rule called ``name`` for a protocol (its declared metrics and their direction); ValueError otherwise."""
    if name in SELECTION_RULES:
        return SELECTION_RULES[name]
    metrics = protocol.metrics
    if name in metrics:
        return metric_improves(name, protocol.metric(name).higher_is_better)
    raise ValueError(f"selection: {name!r} is not one of {', '.join((*SELECTION_RULES, *metrics))} "
                     f"for this dataset's protocol")
