"""The importance curve of a summarised video, with its shots and the selected ones shaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from evaluation.files import write_atomically


def importance_figure(target: Path, title: str, sample_frames: np.ndarray, step_scores: np.ndarray,
                      shots: np.ndarray, selected: np.ndarray, n_frames: int, fps: float) -> None:
    """Write a PNG: per-step scores over time (each held until the next sample), shot boundaries as
    thin lines, selected shots shaded.  Rendered with Agg (no display needed) to a temporary file,
    then renamed."""
    figure = Figure(figsize=(10, 3.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    times = np.append(sample_frames, n_frames) / fps
    axes.stairs(step_scores, times, color="tab:blue", linewidth=1.2, label="importance")
    for index in selected:
        start, end = shots[index]
        axes.axvspan(start / fps, (end + 1) / fps, color="tab:orange", alpha=0.3, linewidth=0,
                     label="selected shots" if index == selected[0] else None)
    for start in shots[1:, 0]:
        axes.axvline(start / fps, color="0.6", linewidth=0.6)
    axes.set_xlim(0, n_frames / fps)
    axes.set_ylim(0, max(1.0, float(np.max(step_scores)) * 1.05 if len(step_scores) else 1.0))
    axes.set_xlabel("time (s)")
    axes.set_ylabel("score")
    axes.set_title(title, fontsize=10)
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    write_atomically(Path(target), lambda file: figure.savefig(file, format="png"))
