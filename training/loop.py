"""One split's training: the original's protocol, its random stream, resumable epochs, any number of ranks.

What a seed means (as in the original ``train.py``, on the CPU): the global generator is seeded, a
throwaway model is built (the original's parameter report), then the split's model; each epoch the
training order comes from the draws the original's ``DataLoader(shuffle=True)`` makes (its base
seed, then its sampler's seed for ``randperm``), the training forwards draw their dropout masks from
the same generator, and the test loader draws its base seed. Each split starts from the seed
(the original seeds once per run), so split k gives the same weights alone, after a resume or in
parallel. ``training.initial_state`` returns the weights a split starts from.
"""

from __future__ import annotations

import collections
import contextlib
import json
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

import dataset as eccv16
from config import Config
from model import build_model
from evaluation.files import write_atomically

from .checkpoints import ProgressWriter, load_progress
from .data import DatasetBundle
from .distributed import BatchNormReplay, World
from .reproducibility import rng_state, seed_everything, set_deterministic, set_rng_state
from .selection import EpochMetrics, selection_rule
from .signals import Terminated


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


@dataclass(frozen=True)
class VideoResult:
    key: str
    metrics: dict[str, float]


# ---------------------------------------------------------------------------------------------- the random stream


def _fresh_model(config: Config) -> torch.nn.Module:
    """The split's model, built as the original builds it after seeding (a throwaway model first)."""
    build_model(config, pretrained=False)
    return build_model(config)


def initial_state(config: Config, dataset_name: str | None = None, split: int | None = None) -> dict[str, torch.Tensor]:
    """The weights a split starts from, on the CPU, with ``config.pretrained`` as configured.

    Every split of every dataset starts from the seed, so the result depends on ``config`` alone;
    the global random state of the caller is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        seed_everything(config.seed)
        return _cpu_copy(_fresh_model(config))


def epoch_order(count: int) -> list[int]:
    """The training order of one epoch, drawn as the original's ``DataLoader(shuffle=True)`` draws it."""
    torch.empty((), dtype=torch.int64).random_()                            # the loader's base seed
    sampler_seed = int(torch.empty((), dtype=torch.int64).random_().item())
    return torch.randperm(count, generator=torch.Generator().manual_seed(sampler_seed)).tolist()


def _after_evaluation_draw() -> None:
    """The base seed the original's test DataLoader draws when it is iterated."""
    torch.empty((), dtype=torch.int64).random_()


@contextlib.contextmanager
def _video_generator(enabled: bool, seed: int, epoch: int, position: int, device: torch.device) -> Iterator[None]:
    """With per-video generators, a training forward draws its dropout from (seed, epoch, position) alone."""
    if not enabled:
        yield
        return
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        state = np.random.SeedSequence([seed, epoch, position]).generate_state(2, dtype=np.uint64)
        torch.manual_seed(int(state[0] % (2**63)))
        yield


# ---------------------------------------------------------------------------------------------- helpers


def _cpu_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: t.detach().to("cpu", copy=True) for name, t in model.state_dict().items()}


def _return_large_buffers_to_the_system() -> None:
    """Have glibc map every buffer of 1 MiB or more on its own and unmap it when freed (``mallopt``).

    Videos of different lengths otherwise leave the heap fragmented, and the resident memory of a long
    streamed run on the CPU grows well past what one step needs (measured on a 0.25 GB file: 1.88 GiB
    by default, 1.54 GiB with this), at some cost in speed on the CPU (18 s against 24 s for that
    epoch). With CUDA the activations are on the device and this changes little.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)        # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def _cpu_tree(value):
    """A copy of nested dicts/lists with every tensor copied to the CPU (for writing in the background)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _cpu_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu_tree(v) for v in value)
    return value


def _autocast(config: Config, device: torch.device):
    """bfloat16 autocast with --amp (CUDA and CPU), fp32 otherwise."""
    if config.amp and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


class VideoSource:
    """Features and targets of a list of videos on the device: all held there, or read from disk per use.

    Held in memory (SumMe, TVSum): moved to the device once per split. Streamed (``--streaming``):
    each video is read from its h5 file when needed, with the next few of a announced order read
    ahead by a background thread while the model trains, so memory holds a handful of videos.
    """

    def __init__(self, records: list[eccv16.VideoRecord], device: torch.device, in_memory: bool,
                 read_ahead: int = 4):
        self.records = records
        self.device = device
        self.cached = [self._load(r) for r in records] if in_memory else None
        self.read_ahead = read_ahead
        self._pending: collections.deque[int] = collections.deque()
        self._futures: dict[int, Any] = {}
        self._pool = None

    def _load(self, record: eccv16.VideoRecord) -> tuple[torch.Tensor, torch.Tensor]:
        features = torch.as_tensor(eccv16.read_features(record), dtype=torch.float32)
        target = torch.as_tensor(record.gtscore, dtype=torch.float32)
        return features.to(self.device, non_blocking=True), target.to(self.device, non_blocking=True)

    def announce(self, indices: list[int]) -> None:
        """The order the videos will be asked for: streamed videos are read ahead in it."""
        if self.cached is not None:
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")
        self._futures.clear()
        self._pending = collections.deque(indices)
        self._top_up()

    def _top_up(self) -> None:
        while self._pending and len(self._futures) < self.read_ahead:
            index = self._pending.popleft()
            if index not in self._futures:
                self._futures[index] = self._pool.submit(self._load, self.records[index])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cached is not None:
            return self.cached[index]
        future = self._futures.pop(index, None)
        item = future.result() if future is not None else self._load(self.records[index])
        self._top_up()
        return item

    def __len__(self) -> int:
        return len(self.records)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def predict(model: torch.nn.Module, features: torch.Tensor, config: Config, device: torch.device) -> np.ndarray:
    """Per-step scores of one video, in eval mode, as float64 numpy."""
    with torch.inference_mode(), _autocast(config, device):
        return model(features).float().cpu().numpy().astype(np.float64)


def evaluate_record(bundle: DatasetBundle, record: eccv16.VideoRecord, scores: np.ndarray) -> dict[str, float]:
    """One video's per-step scores under the dataset's protocol: its metrics and summary length."""
    return bundle.protocol.evaluate(record, scores, bundle.annotations_for(record.key)).as_dict()


def evaluate_videos(model, source: VideoSource, bundle: DatasetBundle, config: Config, device: torch.device,
                    world: World = World()) -> list[VideoResult]:
    """Score the videos of ``source`` (sharded over the ranks, gathered in order on every rank)."""
    model.eval()
    mine = world.shard(len(source))
    source.announce(mine)
    local = [(i, evaluate_record(bundle, source.records[i], _finite(predict(model, source[i][0], config, device),
                                                                   bundle, source.records[i])))
             for i in mine]
    gathered = sorted(world.gather_objects(local), key=lambda item: item[0])
    return [VideoResult(source.records[i].key, metrics) for i, metrics in gathered]


def _finite(scores: np.ndarray, bundle: DatasetBundle, record: eccv16.VideoRecord) -> np.ndarray:
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{bundle.name}: video '{record.key}': the model's scores contain NaN or infinite values "
                         f"(the weights diverged or are damaged)")
    return scores


def place_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Move the model to the device; on the CPU, keep the CNN channels-last (measured ~1.2x faster there)."""
    model.to(device)
    if device.type == "cpu":
        model.cnn.to(memory_format=torch.channels_last)
    return model


def make_optimizer(model: torch.nn.Module, config: Config) -> torch.optim.Adam:
    """The original's Adam; its fused kernel (one pass over all parameters) where this PyTorch has one."""
    options = {"lr": config.learning_rate, "weight_decay": config.weight_decay}
    try:
        return torch.optim.Adam(model.parameters(), fused=True, **options)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(model.parameters(), **options)


def _write_log(path: Path | None, entries: list[dict[str, Any]]) -> None:
    """The whole per-epoch log, replaced at once: after a crash it holds every finished epoch, whole lines only."""
    if path is None:
        return
    write_atomically(path, lambda f: f.write("".join(json.dumps(e) + "\n" for e in entries)), mode="w")


# ---------------------------------------------------------------------------------------------- training


def group_gradients(model: torch.nn.Module, source: VideoSource, order: list[int], group: range, *, config: Config,
                    epoch: int, device: torch.device, world: World, replay: BatchNormReplay,
                    per_video_rng: bool) -> torch.Tensor:
    """Gradients of one group's mean loss (as the original accumulates it) in ``.grad``, on every rank.

    This rank trains its share of the group (positions rank, rank+size, ...); the gradients are
    summed across ranks and the BatchNorm statistics replayed in the group's order. Returns the sum
    of this rank's losses (detached).
    """
    replay.begin_group()
    losses = []
    for slot in world.shard(len(group)):
        position = group[slot]
        features, target = source[order[position]]
        replay.begin_video(position)
        with _video_generator(per_video_rng, config.seed, epoch, position, device), _autocast(config, device):
            scores = model(features)
        replay.end_video()
        losses.append(torch.nn.functional.mse_loss(scores.float(), target))
    if losses:
        (sum(losses[1:], losses[0]) / len(group)).backward()
    world.sum_gradients(list(model.parameters()), device)
    replay.replay(len(group), device)
    return sum((loss.detach() for loss in losses), torch.zeros((), device=device))


def train_split(config: Config, bundle: DatasetBundle, split: int, *, device: torch.device,
                log_path: Path | None = None, progress: bool = True, position: int = 0,
                world: World = World(), progress_path: Path | None = None, resume: bool = False,
                stop_after: int | None = None) -> SplitOutcome:
    """Train split ``split`` (1-based) of ``bundle`` from ``config.seed``.

    ``progress_path``: after every epoch, the state needed to continue (model, optimizer, selection,
    random generators, log) is written there; with ``resume=True`` an existing one is continued.
    ``stop_after``: end after this epoch (the progress file stays), as a killed run would.
    Only rank 0 writes files.
    """
    started = time.perf_counter()
    set_deterministic(config.deterministic)
    seed_everything(config.seed)
    records = bundle.split(split)
    train_keys = bundle.splits[split - 1].train_keys         # as the split file names them (FILE.h5/KEY too)
    protocol = bundle.protocol
    select = selection_rule(config.selection, protocol.metrics)
    model = place_model(_fresh_model(config), device)
    optimizer = make_optimizer(model, config)
    group_size = config.group_size(bundle.fraction_base(), len(records.train))
    per_video_rng = config.per_video_rng or world.distributed
    replay = BatchNormReplay(model, world)
    in_memory = not config.streaming
    if config.streaming:
        _return_large_buffers_to_the_system()
    train_source = VideoSource(records.train, device, in_memory)
    selection_source = VideoSource(records.selection, device, in_memory)

    outcome = SplitOutcome(dataset=bundle.name, split=split, best=None, best_state=None)
    first_epoch = 1
    if resume and progress_path is not None and progress_path.is_file():
        saved = _read_progress(progress_path, config, world)
        if saved is not None:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            outcome.history = [EpochMetrics.from_dict(m) for m in saved["history"]]
            outcome.log = saved["log"]
            outcome.best = EpochMetrics.from_dict(saved["best"]) if saved["best"] else None
            outcome.best_state = saved["best_state"]
            set_rng_state(saved["rng"], device)
            first_epoch = outcome.resumed_from = saved["epoch"] + 1
            if world.is_main:
                tqdm.write(f"{bundle.name} {bundle.splits[split - 1].label}: continuing at epoch {first_epoch} of "
                           f"{config.epochs} from {progress_path}")

    writer = ProgressWriter(progress_path if world.is_main else None)
    epochs = tqdm(range(first_epoch, config.epochs + 1), desc=f"{bundle.name} split {split}", unit="epoch",
                  disable=not progress or not world.is_main, position=position, leave=False, dynamic_ncols=True,
                  initial=first_epoch - 1, total=config.epochs)
    saved_epoch = pending_epoch = first_epoch - 1 if outcome.resumed_from else 0   # epochs in the progress file
    try:
        for epoch in epochs:
            epoch_started = time.perf_counter()
            model.train()
            order = epoch_order(len(train_source))
            train_source.announce([order[start + slot] for start in range(0, len(order), group_size)
                                   for slot in world.shard(min(group_size, len(order) - start))])
            loss_total = torch.zeros((), device=device)
            for start in range(0, len(order), group_size):
                group = range(start, min(start + group_size, len(order)))
                optimizer.zero_grad()
                loss_total += group_gradients(model, train_source, order, group, config=config, epoch=epoch,
                                              device=device, world=world, replay=replay, per_video_rng=per_video_rng)
                optimizer.step()
            _after_evaluation_draw()

            results = evaluate_videos(model, selection_source, bundle, config, device, world)
            loss_sum = float(sum(world.gather_objects([float(loss_total)])))
            metrics = EpochMetrics.from_means(epoch, loss_sum / len(order), protocol.means([r.metrics for r in results]))
            outcome.history.append(metrics)
            selected = select(outcome.best, metrics)
            if selected:
                outcome.best = metrics
                outcome.best_state = _cpu_copy(model)
            epochs.set_postfix(loss=f"{metrics.loss:.4f}", tau=f"{metrics.kendall:.3f}", rho=f"{metrics.spearman:.3f}",
                               F1=f"{metrics.f1:.1f}", best=outcome.best.epoch if outcome.best else "-")
            outcome.log.append({**metrics.as_dict(), "selected": selected,
                                "seconds": round(time.perf_counter() - epoch_started, 3),
                                "order": [train_keys[i] for i in order]})
            if world.is_main:
                _write_log(log_path, outcome.log)
                if progress_path is not None and epoch < config.epochs and config.progress_every \
                        and epoch % config.progress_every == 0:
                    saved_epoch = pending_epoch              # submit() first waits for the previous write
                    writer.submit(config, {
                        "epoch": epoch, "model": _cpu_copy(model), "optimizer": _cpu_tree(optimizer.state_dict()),
                        "history": [m.as_dict() for m in outcome.history], "log": list(outcome.log),
                        "best": outcome.best.as_dict() if outcome.best else None, "best_state": outcome.best_state,
                        "rng": rng_state(device), "world_size": world.size})
                    pending_epoch = epoch
            if stop_after is not None and epoch >= stop_after:
                break
    except (KeyboardInterrupt, Terminated) as stop:
        epochs.close()
        for source in (train_source, selection_source):
            source.close()
        try:
            writer.wait()
            saved_epoch = pending_epoch
        except OSError:
            pass
        finished = outcome.history[-1].epoch if outcome.history else 0
        raise _interruption(stop, f"{bundle.name} {bundle.splits[split - 1].label}", finished, saved_epoch,
                            progress_path) from None
    writer.wait()
    replay.close()
    train_source.close()
    selection_source.close()

    if outcome.best_state is None:      # no epoch passed the rule (e.g. undefined correlations throughout)
        outcome.best = outcome.history[-1]
        outcome.best_state = _cpu_copy(model)
        outcome.fallback_to_last = True
    if [r.key for r in records.test] != [r.key for r in records.selection]:      # selected on validation videos
        results = score_records(config, bundle, records.test, outcome.best_state, device=device, world=world)
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


def _interruption(stop: BaseException, where: str, finished: int, saved: int,
                  progress_path: Path | None) -> TrainingInterrupted:
    """The one line a stopped run prints: where it stopped, what is kept, how to continue."""
    cause = "terminated (SIGTERM)" if isinstance(stop, Terminated) else "interrupted"
    if saved:
        kept = f"epochs 1-{saved} are saved in {progress_path}; `--resume` continues at epoch {saved + 1}"
    elif progress_path is not None and finished:
        kept = "no progress file was written (--progress-every); the split starts over"
    else:
        kept = "the split starts over"
    when = f"after epoch {finished}" if finished else "during epoch 1"
    return TrainingInterrupted(f"{cause} {when} of {where}; {kept}", isinstance(stop, Terminated))


def score_records(config: Config, bundle: DatasetBundle, records: list[eccv16.VideoRecord],
                  state_dict: dict[str, torch.Tensor], *, device: torch.device, world: World = World()) -> list[VideoResult]:
    """Score videos with the given weights (the model built for ``config``, no ImageNet load)."""
    model = build_model(config, pretrained=False)
    model.load_state_dict(state_dict, strict=True)
    place_model(model, device)
    source = VideoSource(records, device, in_memory=False)
    try:
        return evaluate_videos(model, source, bundle, config, device, world)
    finally:
        source.close()


def score_split(config: Config, bundle: DatasetBundle, split: int, state_dict: dict[str, torch.Tensor], *,
                device: torch.device) -> list[VideoResult]:
    """Score a split's test videos with the given weights."""
    return score_records(config, bundle, bundle.split(split).test, state_dict, device=device)
