"""One video from file to keyshot summary: decode, features, shots (KTS), scores, knapsack.

Follows the original ``generate_video.py``: features of every ``sample_rate``-th frame (the datasets'
2 fps at 30 fps), CSTA scores per sampled step, each step's score held over the frames up to the
next sample, shots scored by their mean frame score, and a 0/1 knapsack filling ``ratio`` of the
frames.  Shots come from KTS on the sampled features, their change points scaled back to frames
(``change point × sample_rate``), as DSNet's and the eccv16 datasets' preprocessing does; the original
tool instead runs KTS on the features of every frame, which costs ``sample_rate`` times more
GoogLeNet passes and an O(n³) segmentation over all frames.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from tqdm import tqdm

from evaluation.kts import boundaries, boundaries_to_shots
from evaluation.summary import frame_scores, select_keyshots, shot_scores, summary_budget

from .io import VideoInfo, iter_frames

STAGES = ("decode", "features", "kts", "scoring", "encode")


@dataclass
class StageTimes:
    """Wall time and work done per stage, summed over the videos of a run."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    items: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))
    video_frames: int = 0

    @contextmanager
    def measure(self, stage: str, items: int = 0):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - started
            self.items[stage] += items

    def table(self, device: str) -> str:
        """Per-stage throughput: items/s in the stage's unit, and video frames/s end to end."""
        units = {"decode": "frames", "features": "samples", "kts": "samples", "scoring": "samples",
                 "encode": "frames"}
        lines = [f"Throughput on {device} ({self.video_frames} video frames):",
                 f"  {'stage':<9} {'seconds':>8} {'items':>8} {'unit':<8} {'items/s':>9} {'video frames/s':>15}"]
        for stage in STAGES:
            seconds, items = self.seconds[stage], self.items[stage]
            if seconds > 0 and items:
                lines.append(f"  {stage:<9} {seconds:>8.2f} {items:>8} {units[stage]:<8} "
                             f"{items / seconds:>9.1f} {self.video_frames / seconds:>15.1f}")
            else:
                lines.append(f"  {stage:<9} {seconds:>8.2f} {items:>8} {units[stage]:<8} {'-':>9} {'-':>15}")
        total = sum(self.seconds.values())
        lines.append(f"  {'total':<9} {total:>8.2f} {'':>8} {'':<8} {'':>9} "
                     f"{self.video_frames / total if total else 0.0:>15.1f}")
        return "\n".join(lines)


@dataclass
class VideoSummary:
    """Everything computed for one video (frame numbers count decoded frames from 0)."""

    info: VideoInfo
    n_frames: int
    sample_rate: int
    ratio: float
    sample_frames: np.ndarray
    """Frame number of each scored step (``picks``)."""
    step_scores: np.ndarray
    shots: np.ndarray
    """(S, 2) inclusive [first, last] frames."""
    shot_scores: np.ndarray
    selected: np.ndarray
    """Ascending indices of the shots in the summary."""
    keep: np.ndarray
    """0/1 per frame: in the summary or not."""
    budget: int
    """Most frames the summary may hold: ``int(n_frames × ratio)``."""


def analyse(info: VideoInfo, extract: Callable, score: Callable, *, sample_rate: int = 15,
            ratio: float = 0.15, vmax: float = 1.0, times: StageTimes | None = None,
            progress: bool = True) -> VideoSummary:
    """Decode ``info.path`` once and compute its shots, scores and keyshot selection.

    ``extract`` maps a list of PIL images to (N, 1024) unit-norm features (e.g.
    :class:`video.features.GoogLeNetFeatures`); ``score`` maps (T, 1024) features to (T,) scores
    (e.g. :class:`video.scoring.CstaScorer`).
    """
    times = times or StageTimes()
    features, n_frames = sampled_features(info, extract, sample_rate, times, progress)
    steps = len(features)
    sample_frames = np.arange(steps, dtype=np.int64) * sample_rate

    name = info.path.name
    with _stage_bar(f"{name}: shots (KTS)", progress), times.measure("kts", steps):
        shots = video_shots(features, n_frames, sample_rate, vmax)
    with _stage_bar(f"{name}: scoring", progress), times.measure("scoring", steps):
        step_scores = np.asarray(score(features), dtype=np.float64).reshape(-1)
    if step_scores.shape != (steps,):
        raise ValueError(f"the scorer returned {step_scores.size} scores for {steps} steps")
    keep, selected = select_keyshots(step_scores, shots, n_frames, sample_frames, ratio)
    return VideoSummary(
        info=info, n_frames=n_frames, sample_rate=sample_rate, ratio=ratio,
        sample_frames=sample_frames, step_scores=step_scores, shots=shots,
        shot_scores=shot_scores(frame_scores(step_scores, sample_frames, n_frames), shots),
        selected=selected, keep=keep[:n_frames],
        budget=summary_budget(shots, ratio),
    )


def video_shots(features: np.ndarray, n_frames: int, sample_rate: int, vmax: float = 1.0) -> np.ndarray:
    """Shots (inclusive [first, last] frames) from KTS on the sampled features, penalised for the full length."""
    return boundaries_to_shots(boundaries(features, vmax=vmax, desc_rate=sample_rate) * sample_rate, n_frames)


def sampled_features(info: VideoInfo, extract: Callable, sample_rate: int, times: StageTimes | None = None,
                     progress: bool = False) -> tuple[np.ndarray, int]:
    """Decode every frame, embed every ``sample_rate``-th in batches; returns (features, frame count)."""
    times = times or StageTimes()
    batch_size = getattr(extract, "batch_size", 32)
    images, chunks, n_frames = [], [], 0
    frames = iter_frames(info)
    with tqdm(total=info.declared_frames, unit="frame", desc=f"{info.path.name}: decode + features",
              disable=not progress, leave=False) as bar:
        while True:
            with times.measure("decode"):
                frame = next(frames, None)
                if frame is None:
                    break
                if n_frames % sample_rate == 0:
                    images.append(frame.to_image())
            n_frames += 1
            bar.update()
            if len(images) == batch_size:
                with times.measure("features", len(images)):
                    chunks.append(extract(images))
                images = []
    if images:
        with times.measure("features", len(images)):
            chunks.append(extract(images))
    times.items["decode"] += n_frames
    times.video_frames += n_frames
    return np.concatenate(chunks).astype(np.float32, copy=False), n_frames


@contextmanager
def _stage_bar(description: str, progress: bool):
    """A one-step bar naming a stage that runs as a single call."""
    with tqdm(total=1, desc=description, disable=not progress, leave=False) as bar:
        yield
        bar.update()
