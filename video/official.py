"""SumMe and TVSum rebuilt from their official releases, in the eccv16 layout.

    python -m video.make_dataset --official summe DIR --out data/summe_rebuilt.h5
    python -m video.make_dataset --official tvsum DIR --out data/tvsum_rebuilt.h5

``DIR`` is the extracted release or the archive itself (.zip, .tar, .tar.gz / .tgz), with the
release's files at its top or inside one or two folders:

* SumMe (Gygli et al., ECCV 2014): ``videos/NAME.<ext>`` and ``GT/NAME.mat`` (MATLAB v5 or v7.3, read
  by :mod:`evaluation.summe_gt`): ``user_score`` (frames × users, 0 or the number of the user's
  selection the frame falls in; 15–18 users), ``nFrames``, ``FPS`` (15 to 30; 29.97 as a float).
  Keys ``video_1 …`` follow the names sorted as plain strings (capitals first), the eccv16 file's
  order, so CSTA's splits name the same videos.
* TVSum (Song et al., CVPR 2015): ``data/ydata-tvsum50-anno.tsv`` (20 rows per video: id, category,
  a 1–5 score per frame) and ``video/ID.mp4``; keys in the order the ids first appear in the file.

Each video follows its ground truth's frame grid (``n_frames`` = ``nFrames``, or the number of
scores per annotator): ``picks`` every ``--sample-every`` (15) frames of that grid, each pick's
features from the nearest decoded frame (a one-line warning names the video when the decoded count
differs). ``features`` are the project's GoogLeNet pool5 (as ``make_dataset``), ``change_points``
KTS on them (as ``make_dataset``). SumMe: ``user_summary`` = ``user_score > 0`` (one row per user),
``gtscore`` = the users' mean selection at the picks. TVSum: ``user_summary`` = each annotator's
keyshot summary (shot means of their frame scores over these shots, knapsack at 15 %, as the eccv16
files were made), ``gtscore`` = the annotators' mean score at the picks, scaled to [0, 1]. Both:
``gtsummary`` (the keyshot summary of ``gtscore``), ``fps``, ``video_name``.

Beside ``FILE.h5``: ``FILE_splits.json`` (CSTA's five splits as they are when the release has all 25
/ 50 videos, else ``--folds`` seeded folds) and ``FILE.json``, the dataset description (TVSum: its
``annotations`` name the release's tsv, or a copy ``FILE_anno.tsv`` when ``DIR`` is an archive).

The release is checked before any work: a video without ground truth or ground truth without a
video is named, one line each, exit status 2. Each video's features are cached in
``FILE.h5.cache/NAME.npz`` (written atomically) as soon as they are computed, so a build that is
stopped continues where it stopped; the final files are replaced together and the cache removed.

These files are *not* the eccv16 files: see :data:`DIFFERS_FROM_ECCV16`, also written into the h5
file's attributes.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import tarfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm import tqdm

from dataset import SPLITS_DIR, read_splits_file, write_eccv16
from evaluation.annotations import default_annotations_path, load_tvsum_annotations
from evaluation.summe_gt import SUMME_VIDEOS, summe_truth
from evaluation.summary import keyshot_summary
from storage.files import check_output_set, json_text, replace_together, write_atomically

from .folds import folds
from .io import VIDEO_EXTENSIONS, VideoInfo

DATASETS = {"summe": "SumMe", "tvsum": "TVSum"}

TVSUM_VIDEO_COUNT = 50
TVSUM_ANNOTATIONS = "data/ydata-tvsum50-anno.tsv"
TVSUM_ANNOTATORS = 20
#: TVSum's inner archives: the outer tgz holds these, which must be unpacked to give data/ and video/.
TVSUM_INNER_ARCHIVES = ("ydata-tvsum50-data", "ydata-tvsum50-video")

#: Bump when what a cache file holds changes; older cache files are then recomputed.
CACHE_FORMAT = 1
#: Deepest folder (below DIR) searched for the release's files.
_SEARCH_DEPTH = 4

def differs_from_eccv16(every: int = 15) -> str:
    """What a rebuilt file does not share with the eccv16 file (the h5 attribute ``differs_from_eccv16``)."""
    picks = "picks every 15th frame" if every == 15 else f"(not the picks: every {every}th frame here, 15th there)"
    return (
        "Rebuilt from the official release; NOT the eccv16 file, and numbers on it are not comparable with "
        "published results on eccv16_dataset_{summe,tvsum}_google_pool5.h5. features: torchvision's GoogLeNet "
        "(ImageNet weights) pool5, L2-normalised, on frames decoded by FFmpeg (PyAV), resized 256 and centre-cropped "
        "224; the eccv16 features came from another GoogLeNet (Zhang et al.'s, ECCV 2016) with its own decoding and "
        "preprocessing, so the values differ. change_points: KTS on these features (this project's penalty for the "
        "full length, cuts moved to the frame); the eccv16 shots came from KTS with parameters that were never "
        "published, so the shots differ, and with them TVSum's user_summary (keyshots over the shots), gtsummary "
        f"and every F1. The same as eccv16: the key order, n_frames, {picks}, SumMe's user_summary (the users' own "
        "selections), the ground truth the scores come from."
    )


DIFFERS_FROM_ECCV16 = differs_from_eccv16()


class ReleaseError(ValueError):
    """A release that cannot be built: one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# ------------------------------------------------------------------------------------------------ the release's files


def _ignored(path: str) -> bool:
    """macOS's resource forks (``__MACOSX/``, ``._NAME``) and hidden files are never part of a release."""
    return any(part == "__MACOSX" or part.startswith(".") for part in PurePosixPath(path).parts)


def _safe(name: str) -> str | None:
    """An archive member's name as a relative POSIX path, or None when it would leave the extraction folder."""
    path = PurePosixPath(name.replace("\\", "/"))
    parts = [p for p in path.parts if p not in ("", ".")]
    if path.is_absolute() or ".." in parts or not parts:
        return None
    return "/".join(parts)


class Release:
    """The files of a release: a folder, or a .zip / .tar(.gz) archive whose members are extracted on demand."""

    def __init__(self, location: Path):
        self.location = location
        self.members: dict[str, object] = {}
        self.sizes: dict[str, int] = {}
        try:
            if location.is_dir():
                self.kind = "folder"
                self._list_folder()
            elif location.is_file() and zipfile.is_zipfile(location):
                self.kind = "zip"
                with zipfile.ZipFile(location) as archive:
                    for info in archive.infolist():
                        self._add(info.filename, info, info.file_size, not info.is_dir())
            elif location.is_file() and tarfile.is_tarfile(location):
                self.kind = "tar"
                with tarfile.open(location) as archive:
                    for info in archive.getmembers():
                        self._add(info.name, info.name, info.size, info.isfile())
            elif not location.exists():
                raise ReleaseError([f"{location}: no such folder or archive"])
            else:
                raise ReleaseError([f"{location}: neither a folder nor a .zip / .tar / .tar.gz archive"])
        except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError) as error:
            raise ReleaseError([f"{location}: cannot be read ({error})"]) from None

    def _add(self, name: str, member, size: int, is_file: bool) -> None:
        safe = _safe(name)
        if is_file and safe is not None and not _ignored(safe):
            self.members[safe], self.sizes[safe] = member, size

    def _list_folder(self) -> None:
        root = self.location
        pending = [(root, 0)]
        while pending:
            folder, depth = pending.pop()
            for entry in sorted(folder.iterdir()):
                relative = entry.relative_to(root).as_posix()
                if _ignored(relative):
                    continue
                if entry.is_dir() and depth < _SEARCH_DEPTH:
                    pending.append((entry, depth + 1))
                elif entry.is_file():
                    self.members[relative], self.sizes[relative] = entry, entry.stat().st_size

    def path(self, member: str, scratch: Path) -> Path:
        """Where a member is on disk (its extracted copy for an archive: see :meth:`extract`)."""
        return self.location / member if self.kind == "folder" else scratch / member

    def extract(self, members: list[str], scratch: Path) -> None:
        """Extract the members not yet in ``scratch`` (each written whole, so a stopped extraction resumes)."""
        if self.kind == "folder":
            return
        stat = self.location.stat()
        stamp = f"{self.location.resolve()}\n{stat.st_size}\n{stat.st_mtime_ns}\n"
        marker = scratch / ".archive"
        if scratch.is_dir() and (not marker.is_file() or marker.read_text(encoding="utf-8") != stamp):
            shutil.rmtree(scratch)                         # extracted from another archive, or another version
        if not marker.is_file():
            write_atomically(marker, lambda file: file.write(stamp.encode("utf-8")))
        wanted = {m for m in members
                  if not (scratch / m).is_file() or (scratch / m).stat().st_size != self.sizes[m]}
        if not wanted:
            return
        total = sum(self.sizes[m] for m in wanted)
        try:
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"{self.location.name}: extracting",
                      leave=False) as bar:
                if self.kind == "zip":
                    with zipfile.ZipFile(self.location) as archive:
                        for member in sorted(wanted):
                            with archive.open(self.members[member]) as source:
                                _copy_into(source, scratch / member, bar)
                else:
                    with tarfile.open(self.location) as archive:
                        for info in archive:                         # one pass over a compressed archive
                            member = _safe(info.name)
                            if member in wanted and info.isfile():
                                _copy_into(archive.extractfile(info), scratch / member, bar)
        except (EOFError, zipfile.BadZipFile, tarfile.TarError) as error:
            raise ReleaseError([f"{self.location}: cannot be extracted ({error})"]) from None


def _copy_into(source, target: Path, bar) -> None:
    def write(file) -> None:
        while chunk := source.read(1 << 20):
            file.write(chunk)
            bar.update(len(chunk))

    write_atomically(target, write, durable=False)


# ------------------------------------------------------------------------------------------------ finding and checking


@dataclass
class Video:
    """One video of the release and its ground truth, checked."""

    key: str
    name: str
    member: str
    """The video's path inside the release."""
    path: Path | None = None
    info: VideoInfo | None = None
    n_frames: int = 0
    """The ground truth's frame count: the frame grid of every field."""
    truth: np.ndarray | None = None
    """SumMe: (users, n_frames) 0/1 selections; TVSum: (annotators, n_frames) scores 1–5."""
    fps: float | None = None
    truth_member: str | None = None


@dataclass
class Found:
    """What a release holds, once its videos and ground truth have been paired."""

    dataset: str
    release: Release
    root: str
    videos: list[Video]
    annotations: str | None = None
    """TVSum: the tsv's path inside the release."""
    scores: dict = field(default_factory=dict)

    def relative(self, member: str) -> str:
        return member[len(self.root) + 1:] if self.root else member


def _roots(release: Release, marker) -> list[str]:
    roots = set()
    for member in release.members:
        root = marker(member)
        if root is not None and root.count("/") + bool(root) <= 2:
            roots.add(root)
    return sorted(roots, key=lambda r: (r.count("/"), r))


def _join(root: str, *parts: str) -> str:
    return "/".join(p for p in (root, *parts) if p)


def _files_in(release: Release, folder: str) -> list[str]:
    prefix = folder + "/"
    return sorted(m for m in release.members if m.startswith(prefix) and "/" not in m[len(prefix):])


def _video_files(release: Release, folder: str, location: Path) -> tuple[dict[str, str], list[str]]:
    videos, problems = {}, []
    for member in _files_in(release, folder):
        suffix = PurePosixPath(member).suffix.lower()
        if suffix not in VIDEO_EXTENSIONS:
            continue
        name = PurePosixPath(member).stem
        if name in videos:
            problems.append(f"{location}: video {name!r}: two files, {videos[name]} and {member}")
        videos[name] = member
    return videos, problems


def find(dataset: str, release: Release, scratch: Path) -> Found:
    """Pair the release's videos with their ground truth; every video without ground truth and every ground
    truth without a video is a line of the :class:`ReleaseError`."""
    location = release.location
    if dataset == "summe":
        def marker(member: str) -> str | None:
            parts = member.split("/")
            return "/".join(parts[:-2]) if len(parts) >= 2 and parts[-2] == "GT" and \
                parts[-1].lower().endswith(".mat") else None
        expected = "GT/NAME.mat and videos/NAME.<ext>"
    else:
        def marker(member: str) -> str | None:
            return member[: -len(TVSUM_ANNOTATIONS)].rstrip("/") if member == TVSUM_ANNOTATIONS or \
                member.endswith("/" + TVSUM_ANNOTATIONS) else None
        expected = f"{TVSUM_ANNOTATIONS} and video/ID.mp4"
    roots = _roots(release, marker)
    if not roots:
        problem = f"{location}: not a {DATASETS[dataset]} release: expected {expected} (at the top or in a folder)"
        inner = sorted(m for m in release.members if PurePosixPath(m).name.startswith(TVSUM_INNER_ARCHIVES))
        if dataset == "tvsum" and inner:
            problem += f"; unpack its inner archives first ({', '.join(PurePosixPath(m).name for m in inner)})"
        raise ReleaseError([problem])
    if len(roots) > 1:
        raise ReleaseError([f"{location}: holds more than one {DATASETS[dataset]} release "
                            f"({', '.join(r or '.' for r in roots)}); give one of them"])
    root = roots[0]
    if dataset == "summe":
        videos, problems = _video_files(release, _join(root, "videos"), location)
        truths = {PurePosixPath(m).stem: m for m in _files_in(release, _join(root, "GT"))
                  if m.lower().endswith(".mat")}
        found = Found(dataset, release, root, [])
        problems += [f"{location}: video {name!r} ({found.relative(videos[name])}) has no ground truth "
                     f"GT/{name}.mat" for name in sorted(set(videos) - set(truths))]
        problems += [f"{location}: ground truth {found.relative(truths[name])} has no video videos/{name}.<ext>"
                     for name in sorted(set(truths) - set(videos))]
        if problems:
            raise ReleaseError(problems)
        found.videos = [Video(key=f"video_{i}", name=name, member=videos[name], truth_member=truths[name])
                        for i, name in enumerate(sorted(videos), start=1)]
        return found
    tsv = _join(root, TVSUM_ANNOTATIONS)
    found = Found(dataset, release, root, [], annotations=tsv)
    release.extract([tsv], scratch)
    try:
        scores = load_tvsum_annotations(release.path(tsv, scratch), by_id=True)
    except (OSError, ValueError) as error:
        raise ReleaseError([str(error)]) from None
    videos, problems = _video_files(release, _join(root, "video"), location)
    for name, rows in scores.items():
        if name not in videos:
            problems.append(f"{location}: ground truth of {name!r} in {TVSUM_ANNOTATIONS} has no video "
                            f"video/{name}.mp4")
        elif len(rows) != TVSUM_ANNOTATORS:
            problems.append(f"{location}: video {name!r}: {len(rows)} rows in {TVSUM_ANNOTATIONS}, TVSum has "
                            f"{TVSUM_ANNOTATORS} per video")
    problems += [f"{location}: video {name!r} ({found.relative(videos[name])}) has no ground truth in "
                 f"{TVSUM_ANNOTATIONS}" for name in videos if name not in scores]
    if problems:
        raise ReleaseError(problems)
    found.scores = scores
    found.videos = [Video(key=f"video_{i}", name=name, member=videos[name]) for i, name in enumerate(scores, start=1)]
    return found


def check(found: Found, scratch: Path) -> None:
    """Extract what an archive holds, read every ground truth, open every video; every problem one line."""
    from .io import VideoError, probe

    release, location = found.release, found.release.location
    members = [v.member for v in found.videos] + [v.truth_member for v in found.videos if v.truth_member]
    release.extract(members, scratch)
    problems = []
    for video in found.videos:
        video.path = release.path(video.member, scratch)
        try:
            if found.dataset == "summe":
                where = f"{location}: {found.relative(video.truth_member)}"
                video.truth, video.n_frames, video.fps = summe_truth(release.path(video.truth_member, scratch), where)
            else:
                scores = np.asarray(found.scores[video.name], dtype=np.float64)
                if not np.all(np.isfinite(scores)) or scores.min() < 1 or scores.max() > 5:
                    raise ValueError(f"{location}: {TVSUM_ANNOTATIONS}: video {video.name!r}: scores outside 1..5")
                video.truth, video.n_frames = scores, scores.shape[1]
            video.info = probe(video.path)
            if found.dataset == "tvsum":
                video.fps = float(video.info.fps)
            video.fps = video.fps or float(video.info.fps)
        except (ValueError, VideoError) as error:
            problems.append(str(error))
    if problems:
        raise ReleaseError(problems)


def csta_splits(dataset: str, names: list[str]) -> list[dict[str, list[str]]] | None:
    """CSTA's splits (``data/splits/{SumMe,TVSum}_splits.txt``) when the release holds exactly the dataset's
    videos in the eccv16 order, so that their keys mean the same videos; else None."""
    if dataset == "summe":
        if tuple(names) != SUMME_VIDEOS:
            return None
    elif len(names) != TVSUM_VIDEO_COUNT or names != tvsum_ids(default_annotations_path()):
        return None
    title = DATASETS[dataset]
    return [{"train_keys": list(split.train_keys), "test_keys": list(split.test_keys)}
            for split in read_splits_file(SPLITS_DIR / f"{title}_splits.txt", title)]


def tvsum_ids(path: Path) -> list[str]:
    """The video ids of a TVSum annotation file in the order they first appear (the eccv16 keys' order)."""
    import gzip

    raw = Path(path).read_bytes()
    text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
    return list(dict.fromkeys(line.split("\t", 1)[0] for line in text.splitlines() if line.strip()))


# ------------------------------------------------------------------------------------------------ building


@dataclass
class _GridSampling:
    """Which decoded frames are embedded: every ``every``-th below ``limit``, those from ``tail_from`` on (the
    last decoded frame, when the video ends before the ground truth's last pick), or exactly ``only``."""

    every: int
    limit: int
    tail_from: int | None = None
    only: frozenset | None = None

    def take(self, index: int, seconds: float) -> bool:
        if self.only is not None:
            return index in self.only
        if index >= self.limit:
            return False
        return index % self.every == 0 or (self.tail_from is not None and index >= self.tail_from)


@dataclass
class Embedded:
    """One video's features on its ground truth's frame grid (what the cache holds)."""

    features: np.ndarray
    """(steps, 1024): the features of the decoded frame nearest each pick."""
    differences: np.ndarray
    """(n_frames,): each frame's difference from the one before (0 past the decoded frames), for the cuts."""
    decoded: int
    warning: str = ""


def embed_on_grid(info: VideoInfo, extract, n_frames: int, every: int, progress: bool = True) -> Embedded:
    """Decode a video once and embed the decoded frame nearest each pick ``0, every, 2·every, … < n_frames``:
    the frame of the same number, or the last decoded frame for picks past the end of the decoding."""
    from .io import PartialVideoWarning
    from .pipeline import decode_and_embed

    picks = np.arange(0, n_frames, every)
    last = int(picks[-1])
    declared = info.declared_frames
    tail = None if declared is not None and declared > last else max(0, last - every + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PartialVideoWarning)             # reported by the caller, with the counts
        features, taken, times, differences, reader = decode_and_embed(
            info, extract, _GridSampling(every, n_frames, tail), progress=progress)
        decoded = len(times)
        sources = np.minimum(picks, decoded - 1)
        missing = sorted(set(sources.tolist()) - set(taken.tolist()))
        if missing:                          # ended more than `every` frames before the container said it would
            more, more_taken, *_ = decode_and_embed(info, extract, _GridSampling(every, n_frames,
                                                                                 only=frozenset(missing)))
            features, taken = np.concatenate([features, more]), np.concatenate([taken, more_taken])
    row = {int(frame): i for i, frame in enumerate(taken)}
    grid_differences = np.zeros(n_frames, dtype=np.float64)
    shared = min(n_frames, decoded)
    grid_differences[:shared] = differences[:shared]
    return Embedded(features=np.ascontiguousarray(features[[row[int(s)] for s in sources]], dtype=np.float32),
                    differences=grid_differences, decoded=decoded, warning=reader.warning or "")


def _unit_range(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def video_record(dataset: str, video: Video, embedded: Embedded, every: int, vmax: float) -> dict:
    """The eccv16 fields of one video."""
    from .pipeline import video_shots

    n_frames = video.n_frames
    picks = np.arange(0, n_frames, every, dtype=np.int64)
    shots = video_shots(embedded.features, n_frames, picks, vmax, "video", embedded.differences)
    if dataset == "summe":
        users = video.truth
        gtscore = users.mean(axis=0, dtype=np.float64)[picks]
    else:
        every_frame = np.arange(n_frames)
        users = np.stack([keyshot_summary(scores, shots, n_frames, every_frame) for scores in video.truth])
        gtscore = _unit_range(video.truth.mean(axis=0)[picks])
    gtsummary = keyshot_summary(gtscore, shots, n_frames, picks)[picks]
    return {"key": video.key, "video_name": video.name, "features": embedded.features, "picks": picks,
            "n_frames": n_frames, "change_points": shots, "gtscore": gtscore.astype(np.float32),
            "gtsummary": gtsummary.astype(np.float32), "user_summary": users.astype(np.float32),
            "fps": float(video.fps)}


class Cache:
    """Per-video results of a build, ``FILE.h5.cache/NAME.npz``, valid for the same video, grid and options."""

    def __init__(self, folder: Path):
        self.folder = folder

    def file(self, video: Video) -> Path:
        return self.folder / f"{video.name}.npz"

    @staticmethod
    def settings(video: Video, every: int, pretrained: bool) -> str:
        stat = video.path.stat()
        return json.dumps({"format": CACHE_FORMAT, "video": video.member, "bytes": stat.st_size,
                           "modified_ns": stat.st_mtime_ns, "n_frames": video.n_frames, "sample_every": every,
                           "pretrained": pretrained}, sort_keys=True)

    def load(self, video: Video, settings: str) -> Embedded | None:
        path = self.file(video)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["settings"]) != settings:
                    return None
                return Embedded(features=data["features"], differences=data["differences"],
                                decoded=int(data["decoded"]), warning=str(data["warning"]))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            return None                                    # damaged or of another format: computed again

    def save(self, video: Video, settings: str, embedded: Embedded) -> None:
        def write(file) -> None:
            np.savez(file, settings=np.str_(settings), features=embedded.features,
                     differences=embedded.differences, decoded=np.int64(embedded.decoded),
                     warning=np.str_(embedded.warning))

        write_atomically(self.file(video), write)


def _say(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def build_release(args) -> int:
    """``python -m video.make_dataset --official DATASET DIR --out FILE.h5 ...`` (options parsed there)."""
    from model.device import resolve_device

    dataset_option, location = args.official
    dataset = dataset_option.lower()
    if dataset not in DATASETS:
        raise ValueError(f"--official {dataset_option}: expected one of {', '.join(DATASETS)}")
    location = Path(location)
    out = Path(args.out)
    if out.suffix != ".h5":
        raise ValueError(f"--out {out}: expected a path ending in .h5")
    splits_path, description_path = out.with_name(out.stem + "_splits.json"), out.with_suffix(".json")
    check_output_set(out, (out, splits_path, description_path))
    device = str(resolve_device(args.device))
    cache = Cache(Path(str(out) + ".cache"))
    scratch = cache.folder / "release"

    release = Release(location)
    found = find(dataset, release, scratch)
    names = [v.name for v in found.videos]
    keys = [v.key for v in found.videos]
    splits = csta_splits(dataset, names)
    title = DATASETS[dataset]
    if splits is None:
        if not 2 <= args.folds <= len(keys):
            every_video = len(SUMME_VIDEOS) if dataset == "summe" else TVSUM_VIDEO_COUNT
            raise ValueError(f"--folds {args.folds}: need 2 <= folds <= the number of videos ({len(keys)}); "
                             f"CSTA's splits need all {every_video} videos")
        splits = folds(keys, args.folds, args.seed)
        splits_from = (f"seeded folds (--folds {args.folds} --seed {args.seed}): the release does not hold the "
                       f"{title} videos CSTA's splits name")
    else:
        splits_from = f"CSTA's data/splits/{title}_splits.txt, as it is"
    anno_copy = out.with_name(out.stem + "_anno.tsv") if dataset == "tvsum" and release.kind != "folder" else None
    inputs = {release.path(m, scratch).resolve() for m in release.members} if release.kind == "folder" else set()
    for target in (out, splits_path, anno_copy, description_path):
        if target is not None and target.resolve() in inputs:
            raise ValueError(f"--out {out}: refusing to write {target}: it is a file of the release")
    check(found, scratch)
    every, vmax, pretrained = args.sample_every, args.vmax, not args.no_pretrained
    print(f"{title} release {location}: {len(found.videos)} videos; splits: {splits_from}")

    embedded, settings = {}, {}
    for video in found.videos:
        settings[video.name] = cache.settings(video, every, pretrained)
        cached = cache.load(video, settings[video.name])
        if cached is not None:
            embedded[video.name] = cached
    if len(embedded):
        print(f"continuing from {cache.folder}: {len(embedded)} of {len(found.videos)} videos already done")
    extractor = None
    try:
        for video in tqdm(found.videos, desc=f"{title}: videos", unit="video"):
            if video.name in embedded:
                continue
            if extractor is None:
                from .features import GoogLeNetFeatures, PretrainedWeightsUnavailable

                try:
                    extractor = GoogLeNetFeatures(device, pretrained=pretrained)
                except PretrainedWeightsUnavailable as error:
                    raise ValueError(str(error)) from None
            embedded[video.name] = embed_on_grid(video.info, extractor, video.n_frames, every)
            cache.save(video, settings[video.name], embedded[video.name])
    except BaseException:
        done = sum(cache.file(v).is_file() for v in found.videos)
        if done:
            _say(f"{done} of {len(found.videos)} videos are cached in {cache.folder}; the same command "
                 f"continues from them")
        raise

    records = []
    grid = "nFrames" if dataset == "summe" else f"scores per annotator in {TVSUM_ANNOTATIONS}"
    for video in found.videos:
        result = embedded[video.name]
        if result.decoded != video.n_frames:
            _say(f"warning: {title} video {video.name!r} ({found.relative(video.member)}): {result.decoded} frames "
                 f"decode, its ground truth has {video.n_frames} ({grid}); each pick takes the nearest decoded "
                 f"frame's features")
        if result.warning:
            _say(f"warning: {video.path}: {result.warning}")
        record = video_record(dataset, video, result, every, vmax)
        records.append(record)
        print(f"{video.key}: {video.name}: {video.n_frames} frames, {len(record['picks'])} steps, "
              f"{len(record['change_points'])} shots, {len(record['user_summary'])} users")

    command = ["python", "-m", "video.make_dataset", "--official", dataset, str(location), "--out", str(out),
               "--sample-every", str(every), "--vmax", f"{vmax:g}"]
    if not splits_from.startswith("CSTA"):
        command += ["--folds", str(args.folds), "--seed", str(args.seed)]
    if not pretrained:
        command.append("--no-pretrained")
    weights = ("torchvision GoogLeNet_Weights.IMAGENET1K_V1" if pretrained else
               "RANDOM GoogLeNet weights (--no-pretrained): the features are meaningless, for tests only")
    attrs = {
        "built_from": f"the official {title} release {location.resolve()} ({len(records)} videos), by "
                      f"`{shlex.join(command)}`; features: {weights}; picks: every {every}th frame of the "
                      f"ground truth's frame grid; change_points: KTS, vmax {vmax:g}",
        "differs_from_eccv16": differs_from_eccv16(every),
        "splits": splits_from,
    }

    def write_h5(file) -> None:
        import h5py

        with h5py.File(file, "w") as h5:
            for name, value in attrs.items():
                h5.attrs[name] = value
            write_eccv16(h5, records)
            for record in records:
                h5[record["key"]].create_dataset("fps", data=np.float64(record["fps"]))

    description = {"name": out.stem, "h5": out.name, "splits": splits_path.name, "protocol": title}
    writers = {out: write_h5, splits_path: _text(json_text(splits))}
    if dataset == "tvsum":
        tsv = release.path(found.annotations, scratch)
        if anno_copy is not None:
            writers[anno_copy] = _text(tsv.read_text(encoding="utf-8"))
            description["annotations"] = anno_copy.name
        else:
            description["annotations"] = str(tsv.resolve())
    writers[description_path] = _text(json_text(description))      # last: it names the others
    replace_together(writers, mode="w+b")
    shutil.rmtree(cache.folder, ignore_errors=True)
    written = ", ".join(p.name for p in writers)
    print(f"wrote {written}: train with `python train.py --datasets {description_path}` "
          f"(not comparable with the eccv16 files: see the h5 attribute differs_from_eccv16)")
    return 0


def _text(text: str):
    def write(file) -> None:
        file.write(text.encode("utf-8"))

    return write
