"""Tables printed by train.py and inference.py, in the layout of the paper's results."""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np


def _cell(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence], *, title: str | None = None) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths)))
    rule = "-" * len(line)
    body = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
            for row in cells]
    return "\n".join(([title] if title else []) + [line, rule] + body)


def f1_percent(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.1f}"


def mean_and_std(values: Sequence[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=float)
    return float(array.mean()), float(array.std(ddof=1)) if array.size > 1 else 0.0


def mean_interval(values: Sequence[float], level: float = 0.95) -> dict[str, float | list[float] | int]:
    """Mean, standard deviation and the ``level`` confidence interval of the mean (Student's t, n - 1 dof).

    One value has no spread: its interval is the value itself.
    """
    from scipy import stats

    array = np.asarray(values, dtype=float)
    mean, std = mean_and_std(array)
    half = float(stats.t.ppf(0.5 + level / 2, array.size - 1) * std / np.sqrt(array.size)) if array.size > 1 else 0.0
    return {"n": int(array.size), "mean": mean, "std": std, "ci95": [mean - half, mean + half]}
