"""A small synthetic dataset in the exact eccv16 schema, for `--demo` runs without the real data.

Each video is a sequence of shots. Every shot has a hidden "scene" in a low-dimensional latent
space that drifts slowly within the shot; the features are a fixed random 1024-d embedding of the
latent (rectified like GoogLeNet pool5 features, plus noise). The importance of a step is a smooth
function of the latent along one fixed hidden direction, so a model that finds that direction in
the features can rank the steps, while random scores cannot.

From the importance the generator derives what the real files hold:
- SumMe-like: 15-18 users, each selecting the 10-20% of frames that their own noisy view of the
  importance ranks highest; `gtscore` = the users' mean importance at the picks, scaled to [0, 1].
- TVSum-like: 20 annotators scoring every 2-second segment from 1 to 5 (an annotation file in the
  `ydata-anno.tsv` format), their keyshot selections as `user_summary`, and `gtscore` = the mean
  annotator score at the picks, scaled to [0, 1].
Generation is deterministic for a seed, byte for byte, and takes well under a second.

    python -m demo.eccv16 [OUT_DIR]          # default: data/demo
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Optional, Union

import h5py
import numpy as np

from dataset import DATASET_NAMES, FEATURE_DIM, canonical_dataset_name, splits_path, write_eccv16
from evaluation.knapsack import knapsack
from storage.files import write_atomically

PathLike = Union[str, Path]

DEMO_GENERATOR_VERSION = 2
"""Raise when the generated data changes, so that `ensure_demo_dataset` regenerates old copies."""

DEFAULT_DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "demo"

FRAMES_PER_STEP = 15
SUMMARY_BUDGET = 0.15
TVSUM_SEGMENT_FRAMES = 60
"""TVSum annotators score uniform 2-second segments (60 frames at 30 fps)."""
TVSUM_CATEGORIES = ("VT", "VU", "GA", "MS", "PK", "PR", "FM", "BK", "BT", "DS")
YOUTUBE_ID_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))

SUMME_FILE = "demo_summe.h5"
TVSUM_FILE = "demo_tvsum.h5"
TVSUM_ANNOTATION_FILE = "demo_tvsum_anno.tsv"
SPLITS_SUBDIR = "splits"


@dataclass(frozen=True)
class DemoParameters:
    """Everything the generated data depends on (stored in the files to detect stale copies)."""

    seed: int = 0
    n_videos: int = 25
    min_steps: int = 24
    max_steps: int = 60
    n_splits: int = 5
    feature_dim: int = FEATURE_DIM
    latent_dim: int = 16
    min_shot_frames: int = 30
    max_shot_frames: int = 60
    importance_contrast: float = 1.5
    feature_noise: float = 0.1
    user_noise: float = 0.12
    n_tvsum_annotators: int = 20

    def validate(self) -> None:
        if self.n_videos < self.n_splits or self.n_splits < 1:
            raise ValueError(f"n_videos ({self.n_videos}) must be >= n_splits ({self.n_splits}) >= 1")
        if not 2 <= self.min_steps <= self.max_steps:
            raise ValueError(f"need 2 <= min_steps ({self.min_steps}) <= max_steps ({self.max_steps})")
        if not 1 <= self.min_shot_frames <= self.max_shot_frames:
            raise ValueError(f"need 1 <= min_shot_frames ({self.min_shot_frames}) <= "
                             f"max_shot_frames ({self.max_shot_frames})")
        shortest_budget = int(SUMMARY_BUDGET * FRAMES_PER_STEP * (self.min_steps - 1))
        if self.min_shot_frames > shortest_budget:
            raise ValueError(f"min_shot_frames ({self.min_shot_frames}) must fit the 15% summary "
                             f"budget of the shortest video ({shortest_budget} frames): lower it "
                             f"or raise min_steps ({self.min_steps})")


@dataclass(frozen=True)
class DemoPaths:
    """Where the demo dataset lies; the split files use the standard names inside `splits_dir`."""

    root: Path
    summe_h5: Path
    tvsum_h5: Path
    tvsum_annotations: Path
    splits_dir: Path

    def h5_path(self, dataset_name: str) -> Path:
        return {"SumMe": self.summe_h5, "TVSum": self.tvsum_h5}[_demo_dataset_name(dataset_name)]

    def splits_path(self, dataset_name: str) -> Path:
        return splits_path(_demo_dataset_name(dataset_name), self.splits_dir)

    def annotations_path(self, dataset_name: str) -> Optional[Path]:
        """The ydata-anno.tsv-format file the TVSum protocol reads; None for SumMe."""
        return self.tvsum_annotations if _demo_dataset_name(dataset_name) == "TVSum" else None

    @property
    def all_files(self) -> tuple[Path, ...]:
        return (self.summe_h5, self.tvsum_h5, self.tvsum_annotations,
                self.splits_path("SumMe"), self.splits_path("TVSum"))


def _demo_dataset_name(dataset_name: str) -> str:
    name = canonical_dataset_name(dataset_name)
    if name not in DATASET_NAMES:
        raise ValueError(f"unknown demo dataset '{dataset_name}': expected SumMe or TVSum")
    return name


def demo_paths(out_dir: Optional[PathLike] = None) -> DemoPaths:
    root = Path(out_dir) if out_dir is not None else DEFAULT_DEMO_DIR
    return DemoPaths(root=root, summe_h5=root / SUMME_FILE, tvsum_h5=root / TVSUM_FILE,
                     tvsum_annotations=root / TVSUM_ANNOTATION_FILE,
                     splits_dir=root / SPLITS_SUBDIR)


# ---------------------------------------------------------------------------------------------
# the hidden world: feature embedding and important direction


@dataclass(frozen=True)
class _World:
    embedding: np.ndarray  # (feature_dim, latent_dim)
    important_direction: np.ndarray  # (latent_dim,), unit norm


def _make_world(rng: np.random.Generator, params: DemoParameters) -> _World:
    embedding = rng.standard_normal((params.feature_dim, params.latent_dim)) / np.sqrt(params.latent_dim)
    direction = rng.standard_normal(params.latent_dim)
    return _World(embedding=embedding, important_direction=direction / np.linalg.norm(direction))


# ---------------------------------------------------------------------------------------------
# one video's content


@dataclass(frozen=True)
class _VideoContent:
    n_frames: int
    picks: np.ndarray  # (T,) int64
    change_points: np.ndarray  # (S, 2) int64, inclusive
    features: np.ndarray  # (T, feature_dim) float32
    step_importance: np.ndarray  # (T,) float64 in (0, 1)

    @property
    def shot_lengths(self) -> np.ndarray:
        return self.change_points[:, 1] - self.change_points[:, 0] + 1

    def frame_values(self, step_values: np.ndarray) -> np.ndarray:
        """Per-step values interpolated to every frame (held after the last pick)."""
        return np.interp(np.arange(self.n_frames), self.picks, step_values)


def _make_video(rng: np.random.Generator, world: _World, params: DemoParameters) -> _VideoContent:
    n_steps = int(rng.integers(params.min_steps, params.max_steps + 1))
    n_frames = FRAMES_PER_STEP * (n_steps - 1) + int(rng.integers(1, FRAMES_PER_STEP + 1))
    picks = np.arange(0, n_frames, FRAMES_PER_STEP, dtype=np.int64)
    change_points = _make_shots(rng, n_frames, params)
    latent = _step_latents(rng, picks, change_points, params.latent_dim)
    steepness = params.importance_contrast
    importance = 1.0 / (1.0 + np.exp(-steepness * _project(latent, world.important_direction)))
    return _VideoContent(n_frames=n_frames, picks=picks, change_points=change_points,
                         features=_features(rng, world, latent, params.feature_noise),
                         step_importance=importance)


def _make_shots(rng: np.random.Generator, n_frames: int, params: DemoParameters) -> np.ndarray:
    starts = [0]
    while True:
        next_start = starts[-1] + int(rng.integers(params.min_shot_frames, params.max_shot_frames + 1))
        if next_start > n_frames - params.min_shot_frames // 2:
            break
        starts.append(next_start)
    starts = np.array(starts, dtype=np.int64)
    ends = np.append(starts[1:] - 1, n_frames - 1)
    return np.stack([starts, ends], axis=1)


def _step_latents(rng: np.random.Generator, picks: np.ndarray, change_points: np.ndarray,
                  latent_dim: int) -> np.ndarray:
    """Scene of the step's shot, drifting linearly across the shot, plus a little jitter."""
    shot_of_step = np.searchsorted(change_points[:, 0], picks, side="right") - 1
    scenes = rng.standard_normal((len(change_points), latent_dim))
    drifts = 0.5 * rng.standard_normal((len(change_points), latent_dim))
    starts, ends = change_points[shot_of_step, 0], change_points[shot_of_step, 1]
    position = (picks - starts) / np.maximum(ends - starts, 1) - 0.5
    jitter = 0.1 * rng.standard_normal((len(picks), latent_dim))
    return scenes[shot_of_step] + position[:, None] * drifts[shot_of_step] + jitter


def _features(rng: np.random.Generator, world: _World, latent: np.ndarray,
              noise: float) -> np.ndarray:
    """Non-negative and centred near 0.4, like GoogLeNet pool5 activations."""
    clean = 0.4 + 0.3 * _project(latent, world.embedding.T)
    noisy = clean.astype(np.float32) + np.float32(noise) * rng.standard_normal(clean.shape,
                                                                               dtype=np.float32)
    return np.maximum(noisy, np.float32(0.0))


def _project(vectors: np.ndarray, basis_rows: np.ndarray) -> np.ndarray:
    """vectors @ basis_rows as a fixed-order sum: BLAS would make the bytes depend on its
    threading and, on a busy machine, spend more time spinning than computing."""
    result = np.zeros((vectors.shape[0],) + basis_rows.shape[1:])
    for component in range(vectors.shape[1]):
        result += np.multiply.outer(vectors[:, component], basis_rows[component])
    return result


# ---------------------------------------------------------------------------------------------
# keyshot summaries


def _keyshot_summary(frame_scores: np.ndarray, change_points: np.ndarray) -> np.ndarray:
    """0/1 per frame: the shots of highest mean score filling 15% of the video."""
    lengths = change_points[:, 1] - change_points[:, 0] + 1
    sums = np.add.reduceat(frame_scores, change_points[:, 0])
    chosen = knapsack(sums / lengths, lengths, int(len(frame_scores) * SUMMARY_BUDGET))
    summary = np.zeros(len(frame_scores), dtype=np.float32)
    for start, end in change_points[chosen]:
        summary[start:end + 1] = 1.0
    return summary


def _top_frames_summary(frame_scores: np.ndarray, budget: float) -> np.ndarray:
    """0/1 per frame: the highest-scoring frames, a `budget` fraction of the video.

    SumMe users cut their own segments rather than choosing among fixed shots; selecting
    whole shots by knapsack would favour short shots for every user alike, which random scores
    would then match as well (Otani et al., CVPR 2019).
    """
    n_selected = max(1, int(round(budget * len(frame_scores))))
    order = np.argsort(-frame_scores, kind="stable")
    summary = np.zeros(len(frame_scores), dtype=np.float32)
    summary[order[:n_selected]] = 1.0
    return summary


def _min_max(values: np.ndarray) -> np.ndarray:
    span = values.max() - values.min()
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


# ---------------------------------------------------------------------------------------------
# users and annotators


def _summe_user_views(rng: np.random.Generator, video: _VideoContent, n_users: int,
                      noise: float) -> np.ndarray:
    """(U, n_frames) each user's noisy importance: a per-shot taste plus per-step noise."""
    shot_of_frame = np.repeat(np.arange(len(video.change_points)), video.shot_lengths)
    views = []
    for _ in range(n_users):
        shot_taste = noise * rng.standard_normal(len(video.change_points))
        step_noise = 0.5 * noise * rng.standard_normal(len(video.picks))
        views.append(video.frame_values(video.step_importance + step_noise) + shot_taste[shot_of_frame])
    return np.array(views)


def _tvsum_annotator_scores(rng: np.random.Generator, video: _VideoContent, n_annotators: int,
                            noise: float) -> np.ndarray:
    """(A, n_frames) integer scores 1..5, constant over each 2-second segment."""
    importance = video.frame_values(video.step_importance)
    segment_starts = np.arange(0, video.n_frames, TVSUM_SEGMENT_FRAMES)
    segment_lengths = np.diff(np.append(segment_starts, video.n_frames))
    segment_importance = np.add.reduceat(importance, segment_starts) / segment_lengths
    scores = []
    for _ in range(n_annotators):
        generosity = 0.6 * noise * rng.standard_normal()
        contrast = rng.uniform(0.8, 1.25)
        seen = 0.5 + contrast * (segment_importance - 0.5) + generosity
        seen = seen + noise * rng.standard_normal(len(segment_starts))
        segment_scores = np.clip(np.rint(1 + 4 * seen), 1, 5).astype(np.int64)
        scores.append(np.repeat(segment_scores, segment_lengths))
    return np.array(scores)


# ---------------------------------------------------------------------------------------------
# eccv16 groups


def _eccv16_video(key: str, video_name: str, video: _VideoContent, gtscore: np.ndarray,
                  user_summary: np.ndarray) -> dict:
    """One video's fields as the eccv16 files hold them (``dataset.write_eccv16`` writes them)."""
    gtsummary = _keyshot_summary(video.frame_values(gtscore), video.change_points)[video.picks]
    return {"key": key, "video_name": video_name, "features": video.features, "gtscore": gtscore,
            "gtsummary": gtsummary, "change_points": video.change_points, "n_frames": video.n_frames,
            "picks": video.picks, "user_summary": user_summary}


def _write_summe_like(path: Path, seeds: list[np.random.SeedSequence], world: _World,
                      params: DemoParameters) -> None:
    def videos():
        for index, seed in enumerate(seeds, start=1):
            rng = np.random.default_rng(seed)
            video = _make_video(rng, world, params)
            views = _summe_user_views(rng, video, int(rng.integers(15, 19)), params.user_noise)
            budgets = rng.uniform(0.10, 0.20, size=len(views))
            user_summary = np.array([_top_frames_summary(view, budget)
                                     for view, budget in zip(views, budgets)])
            gtscore = _min_max(views.mean(axis=0)[video.picks])
            yield _eccv16_video(f"video_{index}", f"summe_demo_{index:02d}", video, gtscore, user_summary)

    _write_h5(path, videos(), params)


def _write_tvsum_like(path: Path, annotation_path: Path, seeds: list[np.random.SeedSequence],
                      youtube_ids: list[str], world: _World, params: DemoParameters) -> None:
    rows = []

    def videos():
        for index, (seed, youtube_id) in enumerate(zip(seeds, youtube_ids), start=1):
            rng = np.random.default_rng(seed)
            video = _make_video(rng, world, params)
            scores = _tvsum_annotator_scores(rng, video, params.n_tvsum_annotators, params.user_noise)
            user_summary = np.array([_keyshot_summary(row.astype(np.float64), video.change_points)
                                     for row in scores])
            gtscore = _min_max(scores.mean(axis=0)[video.picks])
            category = TVSUM_CATEGORIES[(index - 1) % len(TVSUM_CATEGORIES)]
            rows.extend(f"{youtube_id}\t{category}\t{','.join(map(str, row))}\n" for row in scores)
            yield _eccv16_video(f"video_{index}", youtube_id, video, gtscore, user_summary)

    _write_h5(path, videos(), params)
    _write_text(annotation_path, "".join(rows))


def _youtube_like_ids(rng: np.random.Generator, count: int) -> list[str]:
    ids: list[str] = []
    while len(ids) < count:
        candidate = "".join(rng.choice(YOUTUBE_ID_ALPHABET, size=11))
        if candidate not in ids:
            ids.append(candidate)
    return ids


def _split_lines(rng: np.random.Generator, dataset_name: str, params: DemoParameters) -> str:
    """Each video in the test set of exactly one split, the original file format."""
    order = rng.permutation(params.n_videos) + 1
    lines = []
    for number, test_block in enumerate(np.array_split(order, params.n_splits)):
        test = sorted(int(video) for video in test_block)
        train = [video for video in range(1, params.n_videos + 1) if video not in test]
        lines.append(f"{dataset_name}/split{number}/"
                     f"{','.join(f'video_{video}' for video in train)}/"
                     f"{','.join(f'video_{video}' for video in test)}\n")
    return "".join(lines)


# ---------------------------------------------------------------------------------------------
# files


def _write_h5(path: Path, videos: Iterable[dict], params: DemoParameters) -> None:
    """An eccv16 file with the generator's version and parameters, written whole or not at all."""
    attrs = {"demo_generator_version": DEMO_GENERATOR_VERSION, "demo_parameters": _parameters_json(params)}
    write_atomically(path, lambda file: write_eccv16(file, videos, attrs=attrs, text_encoding="ascii"),
                     mode="w+b")


def _write_text(path: Path, text: str) -> None:
    write_atomically(path, lambda file: file.write(text), mode="w")


def _parameters_json(params: DemoParameters) -> str:
    return json.dumps(asdict(params), sort_keys=True)


def make_demo_dataset(out_dir: Optional[PathLike] = None, seed: int = 0, n_videos: int = 25,
                      min_steps: int = 24, max_steps: int = 60, **options) -> DemoPaths:
    """Write the SumMe-like and TVSum-like demo files, their splits and the TVSum annotations.

    options: any other field of `DemoParameters` (n_splits, feature_dim, user_noise, ...).
    Returns where the files are.
    """
    params = DemoParameters(seed=seed, n_videos=n_videos, min_steps=min_steps,
                            max_steps=max_steps, **options)
    params.validate()
    paths = demo_paths(out_dir)
    paths.splits_dir.mkdir(parents=True, exist_ok=True)
    world_seed, summe_seed, tvsum_seed, ids_seed, splits_seed = np.random.SeedSequence(seed).spawn(5)
    world = _make_world(np.random.default_rng(world_seed), params)
    _write_summe_like(paths.summe_h5, summe_seed.spawn(params.n_videos), world, params)
    youtube_ids = _youtube_like_ids(np.random.default_rng(ids_seed), params.n_videos)
    _write_tvsum_like(paths.tvsum_h5, paths.tvsum_annotations, tvsum_seed.spawn(params.n_videos),
                      youtube_ids, world, params)
    splits_rng = np.random.default_rng(splits_seed)
    for dataset_name in ("SumMe", "TVSum"):
        _write_text(paths.splits_path(dataset_name), _split_lines(splits_rng, dataset_name, params))
    return paths


def ensure_demo_dataset(out_dir: Optional[PathLike] = None, seed: int = 0, n_videos: int = 25,
                        min_steps: int = 24, max_steps: int = 60, **options) -> DemoPaths:
    """The demo dataset in out_dir (default data/demo), generated only when missing or stale."""
    params = DemoParameters(seed=seed, n_videos=n_videos, min_steps=min_steps,
                            max_steps=max_steps, **options)
    paths = demo_paths(out_dir)
    if _is_current(paths, params):
        return paths
    return make_demo_dataset(out_dir=paths.root, **asdict(params))


def _is_current(paths: DemoPaths, params: DemoParameters) -> bool:
    if not all(path.is_file() for path in paths.all_files):
        return False
    for h5_path in (paths.summe_h5, paths.tvsum_h5):
        try:
            with h5py.File(h5_path, "r") as h5:
                version = h5.attrs.get("demo_generator_version")
                stored = h5.attrs.get("demo_parameters")
        except OSError:
            return False
        if isinstance(stored, bytes):
            stored = stored.decode()
        if version != DEMO_GENERATOR_VERSION or stored != _parameters_json(params):
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m demo.eccv16",
                                     description="Write the SumMe-like and TVSum-like demo datasets in the eccv16 "
                                                 "schema, their splits and the TVSum-layout annotations.")
    parser.add_argument("out_dir", nargs="?", default=None, help="folder to write (default: data/demo)")
    from demo import whole_number

    parser.add_argument("--seed", type=whole_number, default=0, help="generator seed (default: 0)")
    parser.add_argument("--videos", type=whole_number, default=25, help="videos per dataset (default: 25)")
    args = parser.parse_args(argv)
    if args.out_dir is not None and not args.out_dir.strip():
        parser.error("OUT_DIR: an empty path")
    from demo import write_and_list

    return write_and_list(lambda: make_demo_dataset(args.out_dir, seed=args.seed, n_videos=args.videos).all_files)


if __name__ == "__main__":
    sys.exit(main())
