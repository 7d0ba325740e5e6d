"""Training curves as pictures: a split's epochs (``RESULTS_DIR/{dataset}_split{k}.png``, beside its log) and,
with ``--runs K``, each dataset's splits over the runs (``RESULTS_DIR/{dataset}_runs.png``).

A split's picture has one panel for the training loss and one per column of the protocol's results
table (tau, rho, F1, and mAP@50 / mAP@15 for Mr.HiSum) against the epoch, measured on the selection
videos; the kept epoch is marked, and the level uniform random scores reach on the same videos is a
dashed line. Rendered with matplotlib's Agg backend (no display), written to a temporary and renamed.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from storage.files import write_figure_png

from .hooks import EpochHook, videos_bar

if TYPE_CHECKING:                                       # pragma: no cover
    from .loop import SplitRun

#: Uniform random scores are drawn this many times per video (as inference.py's baseline) ...
RANDOM_DRAWS = 20
#: ... but at most this many videos × draws are scored, so that a large validation set stays quick.
RANDOM_EVALUATIONS = 2000

KEPT_COLOUR, RANDOM_COLOUR = "tab:red", "0.45"


def random_level(bundle, records: Sequence, draws: int = RANDOM_DRAWS, rng: np.random.Generator | None = None,
                 seed: int = 0, progress: bool = False, desc: str = "random scores") -> dict[str, float]:
    """The protocol's means over ``records`` scored with uniform random scores, ``draws`` draws per video.

    Draws from its own generator (``rng``, or one seeded with ``seed``): the training's random stream is
    not touched. ``progress``: a bar over the videos when there are many (``training.hooks.videos_bar``).
    """
    from evaluation.protocols import evaluate_record

    rng = rng if rng is not None else np.random.default_rng(seed)
    scores = []
    with videos_bar(len(records), desc, progress) as bar:
        for record in records:
            scores += [evaluate_record(bundle.protocol, record, rng.random(record.n_steps),
                                       bundle.annotations_for(record.key)) for _ in range(draws)]
            bar.update(1)
    return bundle.protocol.means(scores)


def panel_title(protocol, column: str) -> str:
    """A results column's title: the header, and what F1 means for this dataset."""
    if column == "f1":
        return f"F1 (%), {protocol.f1_meaning}"
    return protocol.metric(column).header


#: The PNG text chunk naming the kept epoch a split's picture shows (see :func:`checkpoint_picture`).
KEPT_EPOCH_TEXT = "CSTA kept epoch"
_IDENTITY = ("epoch", "loss", "kendall", "spearman")


def kept_epoch_identity(dataset: str, split: int, metrics: Mapping[str, Any]) -> str:
    """What ties a picture to a checkpoint: the dataset, the split and the kept epoch's loss, τ and ρ (exact)."""
    return json.dumps({"dataset": dataset, "split": int(split), **{k: metrics.get(k) for k in _IDENTITY}})


def split_figure(target: Path | str, log: Sequence[Mapping[str, Any]], protocol, kept_epoch: int, title: str,
                 random: Mapping[str, float] | None = None, identity: str | None = None) -> None:
    """Write the PNG of one split's per-epoch log lines (``loss`` and the protocol's metrics per ``epoch``);
    ``identity`` (:func:`kept_epoch_identity`) goes into its text chunk ``KEPT_EPOCH_TEXT``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    columns = ["loss", *protocol.reported]
    n_cols = 2 if len(columns) <= 4 else 3
    n_rows = math.ceil(len(columns) / n_cols)
    figure = Figure(figsize=(4.6 * n_cols, 2.9 * n_rows + 0.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(n_rows, n_cols, squeeze=False).ravel()
    epochs = np.array([entry["epoch"] for entry in log], dtype=float)
    for ax, column in zip(axes, columns):
        values = np.array([entry.get(column, np.nan) for entry in log], dtype=float)
        ax.plot(epochs, values, color="tab:green" if column == "loss" else "tab:blue",
                marker="o" if len(epochs) <= 30 else None, markersize=3, linewidth=1.3,
                label="training loss" if column == "loss" else "selection videos")
        if column != "loss" and random is not None and column in random:
            ax.axhline(random[column], color=RANDOM_COLOUR, linestyle="--", linewidth=1, label="random scores")
        kept = [i for i, e in enumerate(epochs) if e == kept_epoch]
        ax.axvline(kept_epoch, color=KEPT_COLOUR, linewidth=1, alpha=0.6)
        if kept:
            ax.plot(epochs[kept], values[kept], linestyle="none", marker="*", markersize=11, color=KEPT_COLOUR,
                    label=f"kept (epoch {kept_epoch})")
        ax.set_title("training loss" if column == "loss" else panel_title(protocol, column), fontsize=10)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if len(epochs):
            ax.set_xlim(epochs.min() - 0.5, epochs.max() + 0.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
    for ax in axes[len(columns):]:
        ax.set_visible(False)
    _legend_below(figure, axes[: len(columns)])
    figure.suptitle(title, fontsize=11)
    figure.tight_layout(rect=(0, 0.07 / n_rows, 1, 1))
    write_figure_png(figure, target, {KEPT_EPOCH_TEXT: identity} if identity else None)


def runs_figure(target: Path | str, dataset: str, protocol, per_run: Sequence[Mapping[int, Mapping[str, float]]],
                seeds: Sequence[int], random: Mapping[str, float] | None = None,
                human: Mapping[str, float] | None = None) -> None:
    """Write the PNG of a dataset's splits over repeated runs: per results column, each split's kept value per run
    (on the test videos), the mean over splits, the mean over the runs with its 95 % interval (Student's t),
    and, where given, the random-scores level and the human agreement (TVSum's annotators)."""
    from training.report import mean_interval

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    columns = list(protocol.reported)
    n_cols = min(3, len(columns))
    n_rows = math.ceil(len(columns) / n_cols)
    figure = Figure(figsize=(4.6 * n_cols, 3.0 * n_rows + 0.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(n_rows, n_cols, squeeze=False).ravel()
    runs = np.arange(1, len(per_run) + 1)
    splits = sorted({split for run in per_run for split in run})
    for ax, column in zip(axes, columns):
        table = np.array([[run[split][column] if split in run else np.nan for split in splits] for run in per_run],
                         dtype=float)
        for index, split in enumerate(splits):
            ax.plot(runs, table[:, index], marker="o", markersize=3, linewidth=0.8, alpha=0.7, label=f"split {split}")
        with np.errstate(all="ignore"):
            run_means = np.nanmean(table, axis=1)
            ax.plot(runs, run_means, color="black", linewidth=2, marker="s", markersize=4, label="mean over splits")
        finite = run_means[np.isfinite(run_means)]
        if finite.size:
            stats = mean_interval(finite)
            ax.axhline(stats["mean"], color="black", linestyle=":", linewidth=1, label="mean over runs")
            ax.axhspan(*stats["ci95"], color="black", alpha=0.08, label="95% interval of the mean")
        if random and column in random:
            ax.axhline(random[column], color="tab:red", linestyle="--", linewidth=1, label="random scores")
        if human and column in human:
            ax.axhline(human[column], color="tab:green", linestyle="-.", linewidth=1, label="human agreement")
        ax.set_title(panel_title(protocol, column), fontsize=10)
        ax.set_xticks(runs, [f"{r}\n{s}" for r, s in zip(runs, seeds)], fontsize=7)
        ax.set_xlabel("run / seed", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[len(columns):]:
        ax.set_visible(False)
    _legend_below(figure, axes[: len(columns)])
    figure.suptitle(f"{dataset}: kept epochs on the test videos over {len(per_run)} runs", fontsize=11)
    figure.tight_layout(rect=(0, 0.1 / n_rows, 1, 1))
    write_figure_png(figure, target)


def _legend_below(figure, axes) -> None:
    """One legend for every panel, in a row under them (so that no curve is hidden behind it)."""
    seen: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    figure.legend(list(seen.values()), list(seen), loc="lower center", ncol=len(seen), fontsize=8, frameon=False)


def split_picture_path(results_dir: Path | str, dataset: str, split: int) -> Path:
    return Path(results_dir) / f"{dataset}_split{split}.png"


def runs_picture_path(results_dir: Path | str, dataset: str) -> Path:
    return Path(results_dir) / f"{dataset}_runs.png"


def checkpoint_picture(record: Mapping[str, Any] | None, results_dir: Path | str) -> tuple[Path | None, str]:
    """The curves picture of the training that saved a checkpoint: the PNG beside the log its record names,
    or else the one in ``results_dir`` (a run folder moved or copied from a cluster), whichever carries
    the record's kept epoch in its text chunk (a later run into the same folder replaces the picture).
    ``(path, "")``, or ``(None, why there is none)``."""
    from storage.files import png_text

    if not record or not all(k in record for k in ("dataset", "split", "selected_epoch", "metrics")):
        return None, "the checkpoint has no record of its training"
    try:
        wanted = kept_epoch_identity(record["dataset"], record["split"],
                                     {**record["metrics"], "epoch": record["selected_epoch"]})
    except (TypeError, ValueError, AttributeError):
        return None, "the checkpoint's record is damaged"
    places = [split_picture_path(results_dir, record["dataset"], record["split"])]
    if isinstance(record.get("log"), str):
        places.insert(0, Path(record["log"]).with_suffix(".png"))
    seen = []
    for picture in dict.fromkeys(places):
        if not picture.is_file():
            continue
        found = png_text(picture, KEPT_EPOCH_TEXT)
        if found == wanted:
            return picture, ""
        seen.append(f"{picture} {'is of another training run' if found else 'does not name the training it shows'}")
    if seen:
        return None, "; ".join(seen)
    return None, f"no picture in {' or '.join(str(p.parent) for p in dict.fromkeys(places))}"


class CurvesPicture(EpochHook):
    """After a split's last epoch, ``RESULTS_DIR/{dataset}_split{k}.png`` from its log (all its epochs, resumed
    ones included). The random-scores level is computed once, when the split starts."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.random: dict[str, float] | None = None

    def start(self, run: "SplitRun") -> None:
        videos = run.bundle.split(run.split).selection
        draws = max(1, min(RANDOM_DRAWS, RANDOM_EVALUATIONS // max(1, len(videos))))
        self.random = random_level(run.bundle, videos, draws=draws, seed=0)

    def finish(self, run: "SplitRun") -> None:
        outcome = run.outcome
        if not outcome.log:
            return
        kept = outcome.best.epoch if outcome.best is not None else outcome.log[-1]["epoch"]     # the loop's fallback
        rule = "last epoch (no epoch passed the rule)" if outcome.best is None else run.config.selection
        kept_entry = next(entry for entry in outcome.log if entry["epoch"] == kept)
        try:
            split_figure(self.path, outcome.log, run.bundle.protocol, kept, random=self.random,
                         title=f"{run.bundle.name} {run.bundle.splits[run.split - 1].label}: epoch {kept} kept "
                               f"({rule}); {len(outcome.log)} epochs on the selection videos",
                         identity=kept_epoch_identity(run.bundle.name, run.split, kept_entry))
        except OSError as error:                    # a picture is not worth the trained split
            from storage.files import describe_write_error

            tqdm.write(f"warning: {describe_write_error(error)}; the split's checkpoint and log are kept",
                       file=sys.stderr)
