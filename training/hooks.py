"""What a split's training reports and keeps after each epoch: the progress bar, the per-epoch log, progress files.

A hook is an :class:`EpochHook`; ``training.loop.train_split`` calls every hook it is given at the
start, after each epoch, at the end and when the run is stopped. A new concern (a TensorBoard writer,
a plot) is a new hook: the loop does not change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from storage.checkpoints import ProgressWriter
from storage.files import write_atomically

from .selection import EpochMetrics


class EpochHook:
    """Called by the loop with its ``training.loop.SplitRun``; every method does nothing unless overridden."""

    def start(self, run: "SplitRun") -> None:
        """Before the first epoch (after a resume, before the first epoch still to train)."""

    def epoch_end(self, run: "SplitRun", metrics: EpochMetrics, entry: dict[str, Any]) -> None:
        """After each epoch, with its metrics and its log line."""

    def finish(self, run: "SplitRun") -> None:
        """After the last epoch."""

    def stop(self, run: "SplitRun") -> None:
        """When Ctrl-C or SIGTERM stops the run: finish what is pending."""


#: From this many videos on, an epoch's training and each scoring pass have a bar of their own (a Mr.HiSum epoch
#: of 14,000 videos takes minutes); below it the epochs' bar is enough.
MANY_VIDEOS = 500


def videos_bar(count: int, desc: str, enabled: bool, position: int = 0) -> tqdm:
    """A bar over ``count`` videos, below the epochs' bar and gone when done; shown when ``enabled`` and
    ``count`` reaches :data:`MANY_VIDEOS` (at most a line a second, never a line per video)."""
    return tqdm(total=count, desc=desc, unit="video", disable=not enabled or count < MANY_VIDEOS, position=position,
                leave=False, dynamic_ncols=True, mininterval=1.0)


class ProgressBar(EpochHook):
    """The epochs' bar with the loss, tau, rho, F1 and the kept epoch."""

    def __init__(self, enabled: bool, position: int = 0):
        self.enabled, self.position, self.bar = enabled, position, None

    def start(self, run: "SplitRun") -> None:
        self.bar = tqdm(total=run.config.epochs, initial=run.first_epoch - 1, desc=f"{run.bundle.name} split "
                        f"{run.split}", unit="epoch", disable=not self.enabled, position=self.position, leave=False,
                        dynamic_ncols=True)

    def epoch_end(self, run: "SplitRun", metrics: EpochMetrics, entry: dict[str, Any]) -> None:
        best = run.outcome.best
        self.bar.set_postfix(loss=f"{metrics.loss:.4f}", tau=f"{metrics.kendall:.3f}", rho=f"{metrics.spearman:.3f}",
                             F1=f"{metrics.f1:.1f}", best=best.epoch if best else "-")
        self.bar.update(1)

    def finish(self, run: "SplitRun") -> None:
        self.bar.close()

    stop = finish


class EpochLog(EpochHook):
    """``RESULTS_DIR/{dataset}_split{k}.jsonl``, replaced whole after every epoch: after a crash it holds every
    finished epoch and whole lines only."""

    def __init__(self, path: Path | None):
        self.path = path

    def epoch_end(self, run: "SplitRun", metrics: EpochMetrics, entry: dict[str, Any]) -> None:
        if self.path is not None:
            write_atomically(self.path, lambda f: f.write("".join(json.dumps(e) + "\n" for e in run.outcome.log)),
                             mode="w")


class ProgressSnapshots(EpochHook):
    """Every ``every`` epochs but the last, the state a split resumes from, written in the background.

    ``saved_epoch`` is the last epoch whose progress file is known to be complete.
    """

    def __init__(self, path: Path | None, every: int):
        self.path, self.every = path, every
        self.writer = ProgressWriter(path)

    @property
    def saved_epoch(self) -> int:
        return self.writer.written_epoch

    def start(self, run: "SplitRun") -> None:
        self.writer.written_epoch = run.first_epoch - 1

    def epoch_end(self, run: "SplitRun", metrics: EpochMetrics, entry: dict[str, Any]) -> None:
        epoch = metrics.epoch
        if self.path is None or not self.every or epoch >= run.config.epochs or epoch % self.every:
            return
        self.writer.submit(run.config, run.snapshot(epoch), epoch)

    def finish(self, run: "SplitRun") -> None:
        self.writer.wait()

    def stop(self, run: "SplitRun") -> None:
        try:
            self.finish(run)
        except OSError:
            pass
