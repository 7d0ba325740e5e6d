"""The importance curve of a summarised video, with its shots and the selected ones shaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from storage.files import write_figure_png

from .io import OUTPUT_MARK


def importance_figure(target: Path, title: str, sample_times: np.ndarray, step_scores: np.ndarray,
                      shot_spans, selected: np.ndarray, duration: float) -> None:
    """Write a PNG: per-step scores over time (each held until the next sample), shot boundaries as
    thin lines, selected shots shaded; times in seconds from the frames' timestamps. Rendered with
    Agg (no display needed) to a temporary file, then renamed."""
    figure = Figure(figsize=(10, 3.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    edges = np.append(sample_times, duration)
    axes.stairs(step_scores, edges, color="tab:blue", linewidth=1.2, label="importance")
    for index in selected:
        start, end = shot_spans[index]
        axes.axvspan(start, end, color="tab:orange", alpha=0.3, linewidth=0,
                     label="selected shots" if index == selected[0] else None)
    for start, _ in shot_spans[1:]:
        axes.axvline(start, color="0.6", linewidth=0.6)
    axes.set_xlim(0, duration)
    top = float(np.max(step_scores)) if len(step_scores) else 0.0
    axes.set_ylim(0, top * 1.05 if top > 0 else 1.0)       # the scores' own range: a model's may be far below 1
    axes.set_xlabel("time (s)")
    axes.set_ylabel("score")
    axes.set_title(title.encode("utf-8", "surrogateescape").decode("utf-8", "replace"), fontsize=10)  # any file name
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    write_figure_png(figure, target, {"Software": OUTPUT_MARK})
