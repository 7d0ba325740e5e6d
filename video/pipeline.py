"""One video from file to keyshot summary: decode, features, shots (KTS), scores, knapsack.

Follows the original ``generate_video.py`` with these choices (docs/summarize.md):

* **Sampling by time**: one sample every 1/``samples_per_second`` s of the video's own timestamps
  (2 per second, the rate CSTA's datasets were sampled at, whatever the frame rate);
  ``sample_every=N`` samples every Nth frame instead (the eccv16 files' convention).
* **Shots**: KTS on the sampled features with the penalty computed for the length of the video
  before sampling (the original ``cpd_auto``'s ``desc_rate``), so short clips are segmented as the
  original segments them at full rate; each change point is then moved to the exact frame of the
  cut within its sampling window: the largest difference between consecutive frames there.
* **Speed**: frames are decoded in a background thread; only the sampled frames are converted and
  resized (by FFmpeg's scaler) while GoogLeNet runs on the previous batch.
"""

from __future__ import annotations

import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from tqdm import tqdm

from evaluation.summary import frame_scores, select_keyshots, shot_scores, summary_budget

from .io import DecodeReport, FrameReader, Segment, VideoInfo, picture_array
from .kts import boundaries, boundaries_to_shots

STAGES = ("decode", "features", "kts", "scoring", "encode")
KTS_PENALTIES = ("video", "samples")

#: Side of the grey thumbnails whose differences locate a cut to the frame.
_THUMBNAIL = (32, 18)


@dataclass
class StageTimes:
    """Wall time and work done per stage, summed over the videos of a run."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    wall: float = 0.0
    """Wall time of the whole run (set by the caller)."""
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
        """Per-stage throughput: items/s in the stage's unit, and video frames/s end to end.

        Decoding runs in a thread beside the feature stage (its seconds are the decoder's own work), so
        the stages add up to more than ``total``, the wall time of the whole run.
        """
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
        total = self.wall or sum(self.seconds[s] for s in STAGES)
        lines.append(f"  {'total':<9} {total:>8.2f} {'':>8} {'':<8} {'':>9} "
                     f"{self.video_frames / total if total else 0.0:>15.1f}")
        return "\n".join(lines)


@dataclass
class VideoSummary:
    """Everything computed for one video (frame numbers count decoded frames from 0; times in seconds)."""

    info: VideoInfo
    n_frames: int
    ratio: float
    frame_times: np.ndarray
    """Presentation time of every frame, from the first frame."""
    duration: float
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
    warning: str | None = None
    """What did not decode, when something did not: packets skipped, an early end (the summary covers
    the frames that decoded)."""
    decoding: DecodeReport | None = None
    """The video stream's packets read and skipped."""

    @property
    def sample_times(self) -> np.ndarray:
        return self.frame_times[self.sample_frames]

    def shot_span(self, index: int) -> tuple[float, float]:
        """Start and end (exclusive) time of a shot: from its first frame to the frame after its last."""
        first, last = self.shots[index]
        end = self.frame_times[last + 1] if last + 1 < self.n_frames else self.duration
        return float(self.frame_times[first]), float(end)

    def segments(self) -> list[Segment]:
        return [Segment(int(self.shots[i][0]), int(self.shots[i][1]), *self.shot_span(i)) for i in self.selected]


@dataclass
class Sampling:
    """Which frames are scored: every 1/``per_second`` s of video time, or every ``every``-th frame."""

    per_second: float = 2.0
    every: int | None = None

    def __post_init__(self) -> None:
        self._next_tick = 0

    def take(self, index: int, seconds: float) -> bool:
        if self.every is not None:
            return index % self.every == 0
        if seconds + 1e-6 < self._next_tick / self.per_second:
            return False
        # the next sample is due at the first tick after this frame's time
        self._next_tick = int(np.floor(seconds * self.per_second + 1e-6)) + 1
        return True


#: Pixel formats whose first plane is the luma (brightness) of every pixel.
_LUMA_FIRST = ("yuv", "yuvj", "nv12", "nv21", "gray")


def luma_thumbnail(picture) -> np.ndarray:
    """A coarse grid of the frame's brightness, read from its luma plane without conversion (int16)."""
    if picture.format.name.startswith(_LUMA_FIRST):
        plane = picture.planes[0]
        luma = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
    else:
        luma = picture.reformat(format="gray").to_ndarray()
    step_y, step_x = max(1, luma.shape[0] // _THUMBNAIL[1]), max(1, luma.shape[1] // _THUMBNAIL[0])
    return luma[::step_y, ::step_x].astype(np.int16)


def preprocessing_size(width: int, height: int, short_side: int = 256) -> tuple[int, int]:
    """The size torchvision's ``Resize(256)`` gives: the short side to 256, the aspect kept."""
    if width <= height:
        return short_side, int(short_side * height / width)
    return int(short_side * width / height), short_side


def centre_crop(array: np.ndarray, size: int = 224) -> np.ndarray:
    """torchvision's ``CenterCrop(224)`` of an (H, W, 3) array."""
    height, width = array.shape[:2]
    top, left = int(round((height - size) / 2.0)), int(round((width - size) / 2.0))
    return array[top: top + size, left: left + size]


def decode_and_embed(info: VideoInfo, extract, sampling: Sampling, times: StageTimes | None = None,
                     progress: bool = False):
    """Decode every frame once (in a thread), embed the sampled ones in batches.

    Returns ``(features, sample_frames, frame_times, differences, reader)``: ``differences[i]`` is the
    mean absolute difference of frame i's grey thumbnail from frame i-1's (0 for the first frame).
    """
    times = times or StageTimes()
    batch_size = getattr(extract, "batch_size", 32)
    size = preprocessing_size(info.width, info.height)
    reader = FrameReader(info)
    batches: queue.Queue = queue.Queue(maxsize=2)
    frame_times, differences, sample_frames = [], [], []
    failure: list[BaseException] = []

    waited = [0.0]

    def hand_over(batch) -> None:
        started = time.perf_counter()
        batches.put(batch)
        waited[0] += time.perf_counter() - started

    def produce() -> None:
        previous, images = None, []
        started = time.perf_counter()
        try:
            for frame in reader:
                grey = luma_thumbnail(frame.picture)
                differences.append(0.0 if previous is None else float(np.abs(grey - previous).mean()))
                previous = grey
                frame_times.append(frame.time)
                if sampling.take(frame.index, frame.time):
                    sample_frames.append(frame.index)
                    images.append(centre_crop(picture_array(frame.picture, info.rotation, size)))
                    if len(images) == batch_size:
                        hand_over(np.stack(images))
                        images = []
            if images:
                hand_over(np.stack(images))
        except BaseException as error:          # handed to the consumer thread
            failure.append(error)
        finally:
            times.seconds["decode"] += time.perf_counter() - started - waited[0]
            batches.put(None)

    worker = threading.Thread(target=produce, name="decoder", daemon=True)
    worker.start()
    chunks = []
    with tqdm(total=info.declared_frames, unit="frame", desc=f"{info.path.name}: decode + features",
              disable=not progress, leave=False) as bar:
        while True:
            batch = batches.get()
            if batch is None:
                break
            with times.measure("features", len(batch)):
                chunks.append(extract.embed_arrays(batch) if hasattr(extract, "embed_arrays") else extract(batch))
            bar.update(len(frame_times) - bar.n)
    worker.join()
    if failure:
        raise failure[0]
    times.items["decode"] += len(frame_times)
    times.video_frames += len(frame_times)
    features = np.concatenate(chunks).astype(np.float32, copy=False)
    return (features, np.asarray(sample_frames, dtype=np.int64), np.asarray(frame_times, dtype=np.float64),
            np.asarray(differences, dtype=np.float64), reader)


def video_shots(features: np.ndarray, n_frames: int, sample_frames: np.ndarray, vmax: float = 1.0,
                kts_penalty: str = "video", differences: np.ndarray | None = None) -> np.ndarray:
    """Shots (inclusive [first, last] frames) from KTS on the sampled features.

    ``kts_penalty='video'`` penalises for the video's length before sampling (``desc_rate`` = frames
    per sample), ``'samples'`` for the number of samples. With ``differences``, each cut moves to
    the frame of its sampling window that differs most from the one before it.
    """
    if kts_penalty not in KTS_PENALTIES:
        raise ValueError(f"kts_penalty: {kts_penalty!r} is not one of {', '.join(KTS_PENALTIES)}")
    steps = len(sample_frames)
    desc_rate = n_frames / steps if kts_penalty == "video" and steps else 1.0
    change_points = boundaries(features, vmax=vmax, desc_rate=desc_rate)
    cuts = []
    for step in change_points:
        low, high = int(sample_frames[step - 1]) + 1, int(sample_frames[step])
        cut = high
        if differences is not None and high > low:
            cut = low + int(np.argmax(differences[low: high + 1]))
        if cuts and cut <= cuts[-1]:
            cut = cuts[-1] + 1
        if 0 < cut < n_frames:
            cuts.append(cut)
    return boundaries_to_shots(np.asarray(cuts, dtype=np.int64), n_frames)


def analyse(info: VideoInfo, extract: Callable, score: Callable, *, samples_per_second: float = 2.0,
            sample_every: int | None = None, ratio: float = 0.15, vmax: float = 1.0, kts_penalty: str = "video",
            refine_cuts: bool = True, times: StageTimes | None = None, progress: bool = True) -> VideoSummary:
    """Decode ``info.path`` once and compute its shots, scores and keyshot selection.

    ``extract`` maps a batch of (N, 224, 224, 3) uint8 pictures to (N, 1024) unit-norm features (e.g.
    :class:`video.features.GoogLeNetFeatures`); ``score`` maps (T, 1024) features to (T,) scores
    (e.g. :class:`video.scoring.CstaScorer`).
    """
    times = times or StageTimes()
    sampling = Sampling(per_second=samples_per_second, every=sample_every)
    features, sample_frames, frame_times, differences, reader = decode_and_embed(info, extract, sampling, times,
                                                                                progress)
    n_frames, steps = len(frame_times), len(sample_frames)
    name = info.path.name
    with _stage_bar(f"{name}: shots (KTS)", progress), times.measure("kts", steps):
        shots = video_shots(features, n_frames, sample_frames, vmax, kts_penalty,
                            differences if refine_cuts else None)
    with _stage_bar(f"{name}: scoring", progress), times.measure("scoring", steps):
        step_scores = np.asarray(score(features), dtype=np.float64).reshape(-1)
    if step_scores.shape != (steps,):
        raise ValueError(f"the scorer returned {step_scores.size} scores for {steps} steps")
    keep, selected = select_keyshots(step_scores, shots, n_frames, sample_frames, ratio)
    intervals = np.diff(frame_times)
    last = float(np.median(intervals)) if intervals.size else float(1 / info.fps)
    return VideoSummary(
        info=info, n_frames=n_frames, ratio=ratio, frame_times=frame_times,
        duration=float(frame_times[-1] + last), sample_frames=sample_frames, step_scores=step_scores, shots=shots,
        shot_scores=shot_scores(frame_scores(step_scores, sample_frames, n_frames), shots),
        selected=selected, keep=keep[:n_frames], budget=summary_budget(shots, ratio), warning=reader.warning,
        decoding=reader.report,
    )


@contextmanager
def _stage_bar(description: str, progress: bool):
    """A one-step bar naming a stage that runs as a single call."""
    with tqdm(total=1, desc=description, disable=not progress, leave=False) as bar:
        yield
        bar.update()
