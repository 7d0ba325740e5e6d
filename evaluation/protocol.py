"""CSTA's per-video evaluation: keyshot summary, F1, Kendall tau and Spearman rho.

* **F1** (both datasets, both reductions): the keyshot summary against every
  user summary of the h5 file; ``f1_max`` is the SumMe convention, ``f1_avg``
  the TVSum one.
* **SumMe tau/rho**: the binary keyshot summary against the mean of the user
  summaries, frame by frame.
* **TVSum tau/rho**: the raw per-step scores against each annotator's scores
  (divided by that annotator's maximum, every 15th frame), averaged over the
  annotators.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np

from dataset import DATASET_NAMES, canonical_dataset_name

from .annotations import SAMPLE_EVERY, step_annotations
from .metrics import RankedReference, f1_against_users, rank_correlations, rank_correlations_many
from .summary import select_keyshots

__all__ = ["VideoScores", "evaluate_video", "mean_scores", "DATASETS"]

DATASETS = DATASET_NAMES

#: What CSTA ranks a summary against for tau and rho: SumMe the mean of the user summaries (the binary
#: keyshot summary against it), TVSum each annotator's frame scores (the raw step scores against them).
CORRELATION_REFERENCE = {"SumMe": "mean user summary", "TVSum": "annotators' scores"}


@dataclass(frozen=True)
class VideoScores:
    """Scores of one video.  F1 values are in percent; kendall/spearman in [-1, 1]."""

    f1_max: float
    f1_avg: float
    kendall: float
    spearman: float
    summary: np.ndarray = field(repr=False)
    selected_shots: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)

    @property
    def summary_frames(self) -> int:
        """Number of frames in the keyshot summary."""
        return int(np.count_nonzero(self.summary))

    def as_dict(self) -> dict:
        """The JSON record the command writes for a video."""
        return {
            "f1_max": self.f1_max,
            "f1_avg": self.f1_avg,
            "kendall": self.kendall,
            "spearman": self.spearman,
            "summary_frames": self.summary_frames,
        }


# The training loop scores the same test videos every epoch: keep each
# annotation array's normalised, ranked form while the caller holds the array.
_REFERENCE_CACHE: dict[int, tuple[weakref.ref, RankedReference]] = {}
_CACHE_LIMIT = 256


def _tvsum_reference(annotations) -> RankedReference:
    if isinstance(annotations, np.ndarray):
        hit = _REFERENCE_CACHE.get(id(annotations))
        if hit is not None and hit[0]() is annotations:
            return hit[1]
    ref = RankedReference(step_annotations(annotations))
    if isinstance(annotations, np.ndarray):
        if len(_REFERENCE_CACHE) >= _CACHE_LIMIT:
            for key in [k for k, (r, _) in _REFERENCE_CACHE.items() if r() is None] or list(_REFERENCE_CACHE)[:1]:
                del _REFERENCE_CACHE[key]
        _REFERENCE_CACHE[id(annotations)] = (weakref.ref(annotations), ref)
    return ref


def on_the_annotation_grid(picks: np.ndarray, annotated_frames: int) -> bool:
    """True when the steps are every 15th annotated frame (the eccv16 TVSum file): CSTA's own comparison."""
    return picks.size == -(-annotated_frames // SAMPLE_EVERY) and np.array_equal(
        picks, np.arange(0, annotated_frames, SAMPLE_EVERY))


def evaluate_video(
    dataset: str,
    step_scores,
    *,
    change_points,
    n_frames,
    picks,
    user_summary,
    annotations=None,
    proportion: float = 0.15,
    undefined_correlation: float = 0.0,
) -> VideoScores:
    """Score one video's per-step predictions under CSTA's protocol.

    ``step_scores``: one score per entry of ``picks``.  ``change_points``,
    ``n_frames``, ``picks``, ``user_summary``: the video's eccv16 h5 fields.
    ``annotations``: for TVSum, that video's raw (n_annotators, n_frames)
    array from :func:`evaluation.load_tvsum_annotations` (required).
    ``undefined_correlation``: value reported where tau/rho are undefined
    (constant scores or an empty summary); ``float('nan')`` gives the original's NaN.

    Raises ``ValueError`` with the offending field named for inconsistent inputs.
    """
    name = canonical_dataset_name(str(dataset))
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: expected one of {', '.join(DATASETS)}")
    dataset = name
    summary, selected = select_keyshots(step_scores, change_points, n_frames, picks, proportion)
    users = np.asarray(user_summary)
    if users.ndim != 2:
        raise ValueError(f"user_summary must have shape (n_users, n_frames), got {users.shape}")
    f1_max, f1_avg = f1_against_users(summary, users)

    if CORRELATION_REFERENCE[dataset] == "mean user summary":
        target = users.mean(axis=0)
        length = max(summary.size, target.size)
        pred = np.zeros(length)
        pred[: summary.size] = summary
        truth = np.zeros(length)
        truth[: target.size] = target
        kendall, spearman = rank_correlations(pred, truth, undefined=undefined_correlation)
    else:
        if annotations is None:
            raise ValueError("annotations: TVSum needs the video's annotator scores")
        raw = np.asarray(annotations)
        picks_array = np.asarray(picks).reshape(-1)
        if raw.ndim == 2 and raw.shape[-1] == int(n_frames) and not on_the_annotation_grid(picks_array, raw.shape[-1]):
            # Sampled otherwise than every 15th frame (a dataset of your own, annotated frame by frame):
            # the annotators' scores at the sampled frames, each divided by that annotator's maximum.
            ref = RankedReference(step_annotations(raw, picks=picks_array))
        else:
            ref = _tvsum_reference(annotations)
        scores = np.asarray(step_scores, dtype=np.float64).reshape(-1)
        if ref.n != scores.size:
            raise ValueError(
                f"annotations: {ref.n} steps (every 15th of "
                f"{np.asarray(annotations).shape[-1]} annotated frames) but {scores.size} scores"
            )
        taus, rhos = rank_correlations_many(scores, ref, undefined=undefined_correlation)
        kendall, spearman = float(np.mean(taus)), float(np.mean(rhos))

    return VideoScores(
        f1_max=f1_max,
        f1_avg=f1_avg,
        kendall=kendall,
        spearman=spearman,
        summary=summary,
        selected_shots=selected,
    )


def mean_scores(videos) -> dict:
    """Means of f1_max, f1_avg, kendall and spearman over a list of :class:`VideoScores`."""
    videos = list(videos)
    if not videos:
        raise ValueError("mean_scores needs at least one video")
    keys = ("f1_max", "f1_avg", "kendall", "spearman")
    return {k: float(np.mean([getattr(v, k) for v in videos])) for k in keys}
