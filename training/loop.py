"""One split's training: the original's protocol, its random stream, resumable epochs, any number of ranks.

The pieces: the step (``training.step``), the epoch's order and the model built after seeding
(``training.stream``), evaluation (``training.scoring``), selection (``training.selection``), the
resumable state (:meth:`SplitRun.snapshot` / :meth:`SplitRun.restore`: every entry of
``SplitRun.resumable`` is saved and restored by its ``state_dict``) and the hooks that report and
keep each epoch (``training.hooks``). Each split starts from the seed (the original seeds once per
run), so split k gives the same weights alone, after a resume or in parallel.
``training.initial_state`` returns the weights a split starts from.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from tqdm.auto import tqdm

from config import Config
from storage.checkpoints import load_progress

from .data import DatasetBundle
from .distributed import BatchNormReplay, World
from .hooks import EpochHook, EpochLog, ProgressBar, ProgressSnapshots, videos_bar
from .reproducibility import rng_state, seed_everything, set_deterministic, set_rng_state
from .scoring import VideoResult, evaluate_record, evaluate_videos, predict, score_records, score_split
from .selection import EpochMetrics, selection_rule
from storage.stopping import Terminated
from .step import group_gradients, make_optimizer, place_model, train_step
from .stream import after_evaluation_draw, cpu_state, epoch_order, fresh_model, initial_state
from .videos import VideoSource, return_large_buffers_to_the_system

__all__ = ["SplitOutcome", "SplitRun", "TrainingInterrupted", "VideoResult", "VideoSource", "epoch_order",
           "evaluate_record", "evaluate_videos", "group_gradients", "initial_state", "make_optimizer",
           "make_schedule", "place_model", "predict", "score_records", "score_split", "train_split", "train_step"]


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C or SIGTERM; says which epochs are kept and how to continue."""

    def __init__(self, message: str, terminated: bool):
        super().__init__(message)
        self.terminated = terminated


@dataclass
class SplitOutcome:
    dataset: str
    split: int
    best: EpochMetrics | None
    best_state: dict[str, torch.Tensor] | None
    history: list[EpochMetrics] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    fallback_to_last: bool = False
    test: dict[str, float] | None = None        #: the kept weights on the test videos, when selection used others
    resumed_from: int = 0                       #: epochs taken from a progress file


def make_schedule(optimizer: torch.optim.Optimizer, config: Config):
    """The learning rate over the epochs: constant (``none``, the original's) or cosine to 0 over ``epochs``."""
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return None


@dataclass
class SplitRun:
    """Everything a split's training holds between epochs; ``resumable`` is what a progress file keeps."""

    config: Config
    bundle: DatasetBundle
    split: int
    device: torch.device
    world: World
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Any
    outcome: SplitOutcome
    first_epoch: int = 1
    progress: bool = False                      #: bars within an epoch (many videos, rank 0, not --quiet)
    position: int = 0                           #: their line, below the epochs' bar

    @property
    def resumable(self) -> dict[str, Any]:
        """The objects whose ``state_dict`` a progress file holds, by name."""
        parts = {"model": self.model, "optimizer": self.optimizer, "schedule": self.schedule}
        return {name: part for name, part in parts.items() if part is not None}

    def snapshot(self, epoch: int) -> dict[str, Any]:
        """What a progress file holds after ``epoch``: copies, so that it can be written in the background."""
        outcome = self.outcome
        return {"epoch": epoch, **{name: _cpu_tree(part.state_dict()) for name, part in self.resumable.items()},
                "history": [m.as_dict() for m in outcome.history], "log": list(outcome.log),
                "best": outcome.best.as_dict() if outcome.best else None, "best_state": outcome.best_state,
                "rng": rng_state(self.device), "world_size": self.world.size, "videos": self.videos()}

    def videos(self) -> dict[str, list[str]]:
        """The split's videos as trained now: a progress file of other videos is not continued."""
        split = self.bundle.splits[self.split - 1]
        return {"train": list(split.train_keys), "selection": list(split.selection_keys),
                "test": list(split.test_keys)}

    def restore(self, saved: dict[str, Any]) -> None:
        """Continue from a progress file's state (after its epoch)."""
        for name, part in self.resumable.items():
            if name in saved:
                part.load_state_dict(saved[name])
        outcome = self.outcome
        outcome.history = [EpochMetrics.from_dict(m) for m in saved["history"]]
        outcome.log = saved["log"]
        outcome.best = EpochMetrics.from_dict(saved["best"]) if saved["best"] else None
        outcome.best_state = saved["best_state"]
        set_rng_state(saved["rng"], self.device)
        self.first_epoch = outcome.resumed_from = saved["epoch"] + 1


def _cpu_tree(value):
    """A copy of nested dicts/lists with every tensor copied to the CPU (for writing in the background)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _cpu_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu_tree(v) for v in value)
    return value


def train_epoch(run: SplitRun, source: VideoSource, epoch: int, group_size: int, replay: BatchNormReplay,
                per_video_rng: bool) -> tuple[list[int], torch.Tensor]:
    """One epoch's steps in the original's order; returns the order and the sum of this rank's losses."""
    run.model.train()
    order = epoch_order(len(source))
    source.announce([order[start + slot] for start in range(0, len(order), group_size)
                     for slot in run.world.shard(min(group_size, len(order) - start))])
    loss_total = torch.zeros((), device=run.device)
    with videos_bar(len(order), f"{run.bundle.name} split {run.split} epoch {epoch}: training", run.progress,
                    run.position) as bar:
        for start in range(0, len(order), group_size):
            group = range(start, min(start + group_size, len(order)))
            loss_total += train_step(run.model, run.optimizer, source, order, group, config=run.config, epoch=epoch,
                                     device=run.device, world=run.world, replay=replay, per_video_rng=per_video_rng)
            bar.update(len(group))
    if run.schedule is not None:
        run.schedule.step()
    after_evaluation_draw()
    return order, loss_total


def train_split(config: Config, bundle: DatasetBundle, split: int, *, device: torch.device,
                log_path: Path | None = None, progress: bool = True, position: int = 0,
                world: World = World(), progress_path: Path | None = None, resume: bool = False,
                stop_after: int | None = None, hooks: Sequence[EpochHook] = ()) -> SplitOutcome:
    """Train split ``split`` (1-based) of ``bundle`` from ``config.seed``.

    ``progress_path``: after every epoch, the state needed to continue (model, optimizer, selection,
    random generators, log) is written there; with ``resume=True`` an existing one is continued.
    ``stop_after``: end after this epoch (the progress file stays), as a killed run would.
    ``hooks``: called after the progress bar, the log and the progress file, on rank 0 only.
    Only rank 0 writes files.
    """
    started = time.perf_counter()
    set_deterministic(config.deterministic)
    seed_everything(config.seed)
    records = bundle.split(split)
    train_keys = bundle.splits[split - 1].train_keys         # as the split file names them (FILE.h5/KEY too)
    protocol = bundle.protocol
    select = selection_rule(config.selection, protocol)
    model = place_model(fresh_model(config), device)
    optimizer = make_optimizer(model, config)
    run = SplitRun(config, bundle, split, device, world, model, optimizer, make_schedule(optimizer, config),
                   SplitOutcome(dataset=bundle.name, split=split, best=None, best_state=None),
                   progress=progress and world.is_main, position=position + 1)
    outcome = run.outcome
    group_size = config.group_size(bundle.fraction_base(), len(records.train))
    per_video_rng = config.per_video_rng or world.distributed
    replay = BatchNormReplay(model, world)
    if config.streaming:
        return_large_buffers_to_the_system()
    train_source = VideoSource(records.train, device, not config.streaming)
    selection_source = VideoSource(records.selection, device, not config.streaming)

    if resume and progress_path is not None and progress_path.is_file():
        saved = _read_progress(progress_path, config, world)
        if saved is not None and _same_videos(saved, run, progress_path, world):
            run.restore(saved)
            if world.is_main:
                tqdm.write(f"{bundle.name} {bundle.splits[split - 1].label}: continuing at epoch {run.first_epoch} "
                           f"of {config.epochs} from {progress_path}")

    snapshots = ProgressSnapshots(progress_path if world.is_main else None, config.progress_every)
    every_hook = [ProgressBar(progress and world.is_main, position), EpochLog(log_path if world.is_main else None),
                  snapshots, *(hooks if world.is_main else ())]
    for hook in every_hook:
        hook.start(run)
    try:
        for epoch in range(run.first_epoch, config.epochs + 1):
            epoch_started = time.perf_counter()
            learning_rate = float(optimizer.param_groups[0]["lr"])      # before the epoch's schedule step
            order, loss_total = train_epoch(run, train_source, epoch, group_size, replay, per_video_rng)
            results = evaluate_videos(model, selection_source, bundle, config, device, world, progress=run.progress,
                                      position=run.position, desc=f"{bundle.name} split {split} epoch {epoch}: scoring")
            loss_sum = float(sum(world.gather_objects([float(loss_total)])))
            metrics = EpochMetrics.from_means(epoch, loss_sum / len(order), protocol.means([r.metrics for r in results]))
            outcome.history.append(metrics)
            selected = select(outcome.best, metrics)
            if selected:
                outcome.best = metrics
                outcome.best_state = cpu_state(model)
            entry = {**metrics.as_dict(), "selected": selected, "learning_rate": learning_rate,
                     "seconds": round(time.perf_counter() - epoch_started, 3), "order": [train_keys[i] for i in order]}
            outcome.log.append(entry)
            for hook in every_hook:
                hook.epoch_end(run, metrics, entry)
            if stop_after is not None and epoch >= stop_after:
                break
    except (KeyboardInterrupt, Terminated) as stop:
        for hook in every_hook:
            hook.stop(run)
        for source in (train_source, selection_source):
            source.close()
        finished = outcome.history[-1].epoch if outcome.history else 0
        raise _interruption(stop, f"{bundle.name} {bundle.splits[split - 1].label}", finished, snapshots.saved_epoch,
                            progress_path, snapshots.every) from None
    for hook in every_hook:
        hook.finish(run)
    replay.close()
    train_source.close()
    selection_source.close()

    if outcome.best_state is None:      # no epoch passed the rule (e.g. undefined correlations throughout)
        outcome.best = outcome.history[-1]
        outcome.best_state = cpu_state(model)
        outcome.fallback_to_last = True
    if [r.key for r in records.test] != [r.key for r in records.selection]:      # selected on validation videos
        results = score_records(config, bundle, records.test, outcome.best_state, device=device, world=world,
                                progress=run.progress, position=run.position,
                                desc=f"{bundle.name} split {split}: test videos")
        outcome.test = protocol.means([r.metrics for r in results])
    outcome.seconds = time.perf_counter() - started
    return outcome


def _read_progress(path: Path, config: Config, world: World) -> dict[str, Any] | None:
    """``load_progress``, its warning (a damaged file, other options) printed as one line by rank 0."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        saved = load_progress(path, config)
    if world.is_main:
        for warning in caught:
            tqdm.write(f"warning: {warning.message}", file=sys.stderr)
    return saved


def _same_videos(saved: dict[str, Any], run: "SplitRun", path: Path, world: World) -> bool:
    """Whether a progress file was written for the split's videos as they are now; if not, one line says why the
    split starts over (epochs trained on other videos, or on a test video of today, are never continued)."""
    videos = saved.get("videos")
    if videos == run.videos():
        return True
    if world.is_main:
        why = ("does not name the videos it was trained on (written by an earlier release)" if videos is None
               else "was written for other videos of this split (the split file, or the videos left out, changed)")
        tqdm.write(f"warning: {path}: {why}; the split starts from epoch 1 and its progress replaces this file",
                   file=sys.stderr)
    return False


def _interruption(stop: BaseException, where: str, finished: int, saved: int,
                  progress_path: Path | None, every: int) -> TrainingInterrupted:
    """The one line a stopped run prints: where it stopped, what is kept, how to continue."""
    cause = "terminated (SIGTERM)" if isinstance(stop, Terminated) else "interrupted"
    if saved:
        kept = f"epochs 1-{saved} are saved in {progress_path}; `--resume` continues at epoch {saved + 1}"
    elif progress_path is not None and finished and not every:
        kept = "progress files are off (--progress-every 0); the split starts over"
    elif progress_path is not None and finished:
        kept = f"no progress file is complete yet (one is written every {every} epoch(s)); the split starts over"
    else:
        kept = "the split starts over"
    when = f"after epoch {finished}" if finished else "during epoch 1"
    return TrainingInterrupted(f"{cause} {when} of {where}; {kept}", isinstance(stop, Terminated))
