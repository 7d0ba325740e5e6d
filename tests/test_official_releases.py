"""SumMe and TVSum rebuilt from releases in their official layouts (``--official summe|tvsum DIR``): generated
clips with ground truth in the releases' formats, the real TVSum annotation file, the key order, refusals before
any work, a build stopped and continued from its cache, then each built file trained for an epoch and scored."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zipfile
from fractions import Fraction

import h5py
import numpy as np
import pytest
import scipy.io

import inference
import train
import video.official as official
from dataset import SPLITS_DIR, load_h5, read_splits_file
from evaluation.annotations import default_annotations_path, load_tvsum_annotations
from evaluation.summe_gt import default_summe_gt_path
from evaluation.summary import keyshot_summary
from video.make_dataset import main as make_dataset

from tests.test_summarize import write_planted_video

FPS = 25                                        # write_planted_video's rate
#: SumMe-like videos: name -> scenes (frames). Sorted as plain strings: 'Base jumping', 'Cooking', 'car_over_camera'.
SUMME = {"car_over_camera": [40, 35, 45], "Cooking": [45, 30, 45], "Base jumping": [30, 50, 40]}
#: 'Cooking's ground truth says 123 frames where 120 decode: its last pick (frame 120) is past the decoded end.
SUMME_EXTRA_FRAMES = {"Cooking": 3}
#: TVSum-like videos, in the order of their first row in the tsv (not sorted).
TVSUM = {"zQ9_x-1aBc": [40, 45, 35], "Ab3-k_9ZZz": [35, 40, 45]}
COMMON = ["--no-pretrained", "--device", "cpu"]


def summe_truth(name: str, n_frames: int, seed: int) -> np.ndarray:
    """user_score as SumMe holds it: frames × users, > 0 (the user's own number) where a user selected a frame."""
    rng = np.random.default_rng(seed)
    scores = np.zeros((n_frames, 4))
    for user in range(4):
        for _ in range(2):
            first = int(rng.integers(0, n_frames - 12))
            scores[first: first + int(rng.integers(6, 12)), user] = user + 1
    return scores


@pytest.fixture(scope="module")
def summe_release(tmp_path_factory):
    root = tmp_path_factory.mktemp("summe") / "SumMe"
    (root / "videos").mkdir(parents=True)
    (root / "GT").mkdir()
    for seed, (name, scenes) in enumerate(SUMME.items()):
        write_planted_video(root / "videos" / f"{name}.mp4", scenes, seed=seed)
        n_frames = sum(scenes) + SUMME_EXTRA_FRAMES.get(name, 0)
        user_score = summe_truth(name, n_frames, seed)
        scipy.io.savemat(root / "GT" / f"{name}.mat", {
            "user_score": user_score, "gt_score": user_score.astype(bool).mean(axis=1, keepdims=True),
            "nFrames": np.array([[n_frames]], dtype=np.uint16), "FPS": np.array([[float(FPS)]])})
    return root


@pytest.fixture(scope="module")
def tvsum_archive(tmp_path_factory):
    """A TVSum-like release packed as the real one is: ydata-tvsum50-v1_1/{data,video}/ in a .tar.gz."""
    folder = tmp_path_factory.mktemp("tvsum")
    root = folder / "ydata-tvsum50-v1_1"
    (root / "data").mkdir(parents=True)
    (root / "video").mkdir()
    rng = np.random.default_rng(5)
    lines = []
    for seed, (name, scenes) in enumerate(TVSUM.items(), start=10):
        write_planted_video(root / "video" / f"{name}.mp4", scenes, seed=seed)
        shot_scores = rng.integers(1, 6, (20, len(scenes)))
        for row in shot_scores:
            frames = np.repeat(row, scenes)
            lines.append(f"{name}\tVT\t{','.join(map(str, frames))}\n")
    (root / "data" / "ydata-tvsum50-anno.tsv").write_text("".join(lines))
    archive = folder / "tvsum50_ver_1_1.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname=root.name)
    return archive, root


def one_line_errors(capsys) -> list[str]:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(line.startswith("error: ") for line in err) and not any("Traceback" in line for line in err), err
    return err


def train_and_score(description, tmp_path, name: str, splits: int) -> dict:
    common = ["--datasets", str(description), "--device", "cpu", "--splits", *map(str, range(1, splits + 1)),
              "--weights-dir", str(tmp_path / "w"), "--results-dir", str(tmp_path / "r")]
    assert train.main([*common, "--epochs", "1", "--no-pretrained", "--quiet"]) == 0
    assert inference.main([*common, "--out", str(tmp_path / "scores.json")]) == 0
    return json.loads((tmp_path / "scores.json").read_text())["datasets"][name]


# ------------------------------------------------------------------------------------------------ key order, splits


def test_summe_keys_are_the_names_sorted_as_plain_strings():
    assert list(official.SUMME_VIDEOS) == sorted(official.SUMME_VIDEOS)          # capitals before lower case
    keys = {f"video_{i}": name for i, name in enumerate(official.SUMME_VIDEOS, start=1)}
    assert (keys["video_1"], keys["video_6"], keys["video_8"], keys["video_23"], keys["video_25"]) == \
        ("Air_Force_One", "Car_railcrossing", "Cooking", "car_over_camera", "playing_ball")
    csta = [{"train_keys": list(s.train_keys), "test_keys": list(s.test_keys)}
            for s in read_splits_file(SPLITS_DIR / "SumMe_splits.txt", "SumMe")]
    assert official.csta_splits("summe", list(official.SUMME_VIDEOS)) == csta
    assert official.csta_splits("summe", list(official.SUMME_VIDEOS)[:24]) is None
    assert official.csta_splits("summe", sorted(official.SUMME_VIDEOS, key=str.lower)) is None


def test_the_real_tvsum_annotations_give_the_eccv16_keys(tmp_path):
    ids = official.tvsum_ids(default_annotations_path())
    assert len(ids) == 50 and ids[0] == "AwmHb44_ouw"
    csta = [{"train_keys": list(s.train_keys), "test_keys": list(s.test_keys)}
            for s in read_splits_file(SPLITS_DIR / "TVSum_splits.txt", "TVSum")]
    assert official.csta_splits("tvsum", ids) == csta
    assert official.csta_splits("tvsum", ids[1:] + ids[:1]) is None

    # a release made of the real file: found in the real order, 20 annotators each, before any video is read
    root = tmp_path / "ydata-tvsum50-v1_1"
    (root / "data").mkdir(parents=True)
    (root / "video").mkdir()
    (root / "data" / "ydata-tvsum50-anno.tsv").write_bytes(gzip.decompress(default_annotations_path().read_bytes()))
    for name in ids:
        (root / "video" / f"{name}.mp4").write_bytes(b"")
    found = official.find("tvsum", official.Release(tmp_path), tmp_path / "scratch")
    assert [v.name for v in found.videos] == ids and found.videos[0].key == "video_1"
    assert all(len(found.scores[v.name]) == 20 for v in found.videos)
    by_key = load_tvsum_annotations()                               # what the TVSum protocol reads: video_1.. by order
    assert all(np.array_equal(by_key[v.key], found.scores[v.name]) for v in found.videos)
    # ... and its first 3 videos' rows, with one video missing and a stray one: one line each (exit 2 from the
    # command, which prints them)
    tsv = root / "data" / "ydata-tvsum50-anno.tsv"
    tsv.write_text("".join(tsv.read_text().splitlines(keepends=True)[:60]))
    for name in ids[3:]:
        (root / "video" / f"{name}.mp4").unlink()
    (root / "video" / f"{ids[1]}.mp4").unlink()
    (root / "video" / "stray.mp4").write_bytes(b"")
    with pytest.raises(official.ReleaseError) as refused:
        official.find("tvsum", official.Release(tmp_path), tmp_path / "scratch")
    assert refused.value.problems == [
        f"{tmp_path}: ground truth of {ids[1]!r} in data/ydata-tvsum50-anno.tsv has no video video/{ids[1]}.mp4",
        f"{tmp_path}: video 'stray' (video/stray.mp4) has no ground truth in data/ydata-tvsum50-anno.tsv"]


def test_a_summe_archive_with_unpaired_files_is_refused_one_line_each(tmp_path, capsys):
    archive = tmp_path / "SumMe.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for member in ("SumMe/videos/Jumps.mp4", "SumMe/videos/Scuba.webm", "SumMe/GT/Jumps.mat",
                       "SumMe/GT/Paintball.mat", "__MACOSX/SumMe/GT/._Jumps.mat"):
            zf.writestr(member, b"not really")
    out = tmp_path / "summe.h5"
    assert make_dataset(["--official", "summe", str(archive), "--out", str(out), *COMMON]) == 2
    assert one_line_errors(capsys) == [
        f"error: {archive}: video 'Scuba' (videos/Scuba.webm) has no ground truth GT/Scuba.mat",
        f"error: {archive}: ground truth GT/Paintball.mat has no video videos/Paintball.<ext>"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["SumMe.zip"]          # nothing extracted, no cache
    assert make_dataset(["--official", "summe", str(tmp_path / "nowhere"), "--out", str(out), *COMMON]) == 2
    assert one_line_errors(capsys) == [f"error: {tmp_path / 'nowhere'}: no such folder or archive"]


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_an_archive_extracts_the_members_asked_for_once(tmp_path, kind):
    archive = tmp_path / ("release.zip" if kind == "zip" else "release.tar")
    members = {"SumMe/GT/a.mat": b"ground truth", "SumMe/videos/a.mp4": b"video", "SumMe/demo.m": b"unused",
               "../escape.txt": b"never", "__MACOSX/SumMe/._a.mp4": b"fork"}
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
    else:
        with tarfile.open(archive, "w") as tar:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    release = official.Release(archive)
    assert sorted(release.members) == ["SumMe/GT/a.mat", "SumMe/demo.m", "SumMe/videos/a.mp4"]
    scratch = tmp_path / "scratch"
    release.extract(["SumMe/GT/a.mat", "SumMe/videos/a.mp4"], scratch)
    assert release.path("SumMe/videos/a.mp4", scratch).read_bytes() == b"video"
    assert sorted(p.relative_to(scratch).as_posix() for p in scratch.rglob("*") if p.is_file()) == \
        [".archive", "SumMe/GT/a.mat", "SumMe/videos/a.mp4"]
    before = (scratch / "SumMe/GT/a.mat").stat().st_mtime_ns
    release.extract(["SumMe/GT/a.mat"], scratch)                                  # already there: not again
    assert (scratch / "SumMe/GT/a.mat").stat().st_mtime_ns == before


# ------------------------------------------------------------------------------------------------ the frame grid


class PixelFeatures:
    """A stand-in extractor: a frame's first 1024 pixel values, so that features name their frame exactly."""

    batch_size = 8

    def __call__(self, pictures):
        return pictures.reshape(len(pictures), -1)[:, :1024].astype(np.float32)


@pytest.mark.parametrize("n_frames", [37, 52, 75])       # ground truth shorter, 12 and 35 frames longer than decoded
def test_each_pick_takes_the_nearest_decoded_frame(tmp_path, n_frames):
    from video.io import probe
    from video.pipeline import Sampling, decode_and_embed

    clip = tmp_path / "clip.mp4"
    write_planted_video(clip, [20, 20], seed=3)
    info = probe(clip)
    every_frame, *_ = decode_and_embed(info, PixelFeatures(), Sampling(every=1))
    grid = official.embed_on_grid(info, PixelFeatures(), n_frames, 15, progress=False)
    picks = np.arange(0, n_frames, 15)
    assert grid.decoded == 40 and grid.differences.shape == (n_frames,)
    assert np.array_equal(grid.features, every_frame[np.minimum(picks, 39)])


def test_a_matlab_v73_ground_truth_reads_as_v5(tmp_path):
    user_score = summe_truth("x", 90, 1)
    scipy.io.savemat(tmp_path / "v5.mat", {"user_score": user_score, "nFrames": 90, "FPS": 29.97})
    with h5py.File(tmp_path / "v73.mat", "w", userblock_size=512) as h5:      # MATLAB's layout: column-major
        h5["user_score"], h5["nFrames"], h5["FPS"] = user_score.T, np.array([[90.0]]), np.array([[29.97]])
    with open(tmp_path / "v73.mat", "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .")
    v5, v73 = (official.summe_truth(tmp_path / f"{n}.mat", n) for n in ("v5", "v73"))
    assert np.array_equal(v5[0], v73[0]) and v5[0].shape == (4, 90) and v5[1:] == v73[1:] == (90, 29.97)
    assert np.array_equal(v5[0], (user_score > 0).T)


# ------------------------------------------------------------------------------------------------ whole builds


@pytest.mark.slow
def test_summe_build_stopped_continues_from_its_cache_then_trains(summe_release, tmp_path, capsys, monkeypatch):
    out = tmp_path / "summe_rebuilt.h5"
    argv = ["--official", "summe", str(summe_release), "--out", str(out), "--folds", "3", *COMMON]
    real, calls = official.embed_on_grid, []

    def stopped_at_the_second_video(info, *args, **kwargs):
        calls.append(info.path.stem)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(info, *args, **kwargs)

    monkeypatch.setattr(official, "embed_on_grid", stopped_at_the_second_video)
    assert make_dataset(argv) == 130
    assert "1 of 3 videos are cached in" in capsys.readouterr().err
    assert not out.exists() and [p.name for p in out.with_name(out.name + ".cache").glob("*.npz")] == \
        ["Base jumping.npz"]

    monkeypatch.setattr(official, "embed_on_grid", lambda info, *a, **k: calls.append(info.path.stem) or
                        real(info, *a, **k))
    assert make_dataset(argv) == 0
    assert calls == ["Base jumping", "Cooking", "Cooking", "car_over_camera"]    # the first was not decoded again
    captured = capsys.readouterr()
    warnings_ = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert warnings_ == ["warning: SumMe video 'Cooking' (videos/Cooking.mp4): 120 frames decode, its ground "
                         "truth has 123 (nFrames); each pick takes the nearest decoded frame's features"]
    assert "continuing from" in captured.out and not out.with_name(out.name + ".cache").exists()

    records = load_h5(out)
    assert list(records) == ["video_1", "video_2", "video_3"]
    assert [r.video_name for r in records.values()] == ["Base jumping", "Cooking", "car_over_camera"]
    for record in records.values():
        frames = sum(SUMME[record.video_name]) + SUMME_EXTRA_FRAMES.get(record.video_name, 0)
        user_score = scipy.io.loadmat(summe_release / "GT" / f"{record.video_name}.mat")["user_score"]
        assert record.n_frames == frames and record.user_summary.shape == (4, frames)
        assert np.array_equal(record.user_summary, (user_score > 0).T)
        assert np.array_equal(record.picks, np.arange(0, frames, 15))
        assert np.allclose(record.gtscore, (user_score > 0).mean(axis=1)[record.picks])
        assert record.change_points[0, 0] == 0 and record.change_points[-1, 1] == frames - 1
    with h5py.File(out) as h5:
        assert "NOT the eccv16 file" in h5.attrs["differs_from_eccv16"]
        assert "--official summe" in h5.attrs["built_from"] and "RANDOM GoogLeNet" in h5.attrs["built_from"]
        assert h5["video_2/fps"][()] == FPS
    description = json.loads(out.with_suffix(".json").read_text())
    assert description == {"name": "summe_rebuilt", "h5": "summe_rebuilt.h5", "splits": "summe_rebuilt_splits.json",
                           "protocol": "SumMe"}
    scored = train_and_score(out.with_suffix(".json"), tmp_path, "summe_rebuilt", 1)
    assert scored["protocol"] == "SumMe" and set(scored["splits"]) == {"1"}


@pytest.mark.slow
def test_tvsum_from_its_archive_trains_and_scores(tvsum_archive, tmp_path, capsys):
    archive, root = tvsum_archive
    out = tmp_path / "tvsum_rebuilt.h5"
    assert make_dataset(["--official", "tvsum", str(archive), "--out", str(out), "--folds", "2", *COMMON]) == 0
    assert "warning" not in capsys.readouterr().err
    records = load_h5(out)
    given = load_tvsum_annotations(root / "data" / "ydata-tvsum50-anno.tsv", by_id=True)
    assert [r.video_name for r in records.values()] == list(TVSUM)                   # first appearance, not sorted
    for record in records.values():
        scores = given[record.video_name]
        assert record.n_frames == scores.shape[1] and record.user_summary.shape == (20, record.n_frames)
        for user, row in zip(record.user_summary, scores):
            assert np.array_equal(user, keyshot_summary(row, record.change_points, record.n_frames,
                                                        np.arange(record.n_frames)))
        mean = scores.mean(axis=0)[record.picks]
        assert np.allclose(record.gtscore, (mean - mean.min()) / (mean.max() - mean.min()), atol=1e-6)
    description = json.loads(out.with_suffix(".json").read_text())
    assert description["protocol"] == "TVSum" and description["annotations"] == "tvsum_rebuilt_anno.tsv"
    tsv = (root / "data" / "ydata-tvsum50-anno.tsv").read_bytes()
    assert out.with_name("tvsum_rebuilt_anno.tsv").read_bytes() == tsv
    assert not out.with_name(out.name + ".cache").exists()
    scored = train_and_score(out.with_suffix(".json"), tmp_path, "tvsum_rebuilt", 1)
    assert scored["protocol"] == "TVSum" and set(scored["splits"]) == {"1"}


# ------------------------------------------------------------------------------------------------ the real ground truth


#: Real SumMe videos (data/summe_gt/): name -> (nFrames, FPS, users): 15 / 24000/1001 / 25 / 30000/1001 / 30 frames
#: per second, 15 to 18 users, names with spaces and in lower case (sorted after the capitals).
REAL_SUMME = {
    "Jumps": (950, 25, 15), "Cooking": (1286, 15, 17), "Fire Domino": (1612, 30, 15),
    "St Maarten Landing": (1751, 25, 17), "paluma_jump": (2574, Fraction(30000, 1001), 15),
    "playing_ball": (3120, 30, 16), "Base jumping": (4729, Fraction(30000, 1001), 18),
    "Paintball": (6096, Fraction(24000, 1001), 17),
}


class PixelGoogLeNet(PixelFeatures):
    """GoogLeNetFeatures' place taken by :class:`PixelFeatures`: the build's own work, without a CNN's minutes."""

    def __init__(self, device, pretrained=True):
        self.device = device


@pytest.mark.slow
def test_summe_from_the_real_ground_truth_of_8_videos(tmp_path, capsys, monkeypatch):
    """The official GT files of 8 videos with generated videos of exactly their frame counts and rates."""
    import video.features

    monkeypatch.setattr(video.features, "GoogLeNetFeatures", PixelGoogLeNet)
    root = tmp_path / "SumMe"
    (root / "videos").mkdir(parents=True)
    (root / "GT").mkdir()
    for seed, (name, (n_frames, fps, _)) in enumerate(REAL_SUMME.items()):
        scenes = [n_frames // 4] * 3 + [n_frames - 3 * (n_frames // 4)]
        write_planted_video(root / "videos" / f"{name}.mp4", scenes, size=(32, 24), fps=fps, seed=seed)
        (root / "GT" / f"{name}.mat").write_bytes((default_summe_gt_path() / f"{name}.mat").read_bytes())
    out = tmp_path / "summe_real.h5"
    assert make_dataset(["--official", "summe", str(root), "--out", str(out), "--folds", "4", *COMMON]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err
    assert "splits: seeded folds (--folds 4 --seed 0)" in captured.out

    records = load_h5(out)
    names = sorted(REAL_SUMME)                                     # plain string order: capitals first
    assert names[0] == "Base jumping" and names[-2:] == ["paluma_jump", "playing_ball"]
    assert list(records) == [f"video_{i}" for i in range(1, 9)]
    assert [r.video_name for r in records.values()] == names
    with h5py.File(out) as h5:
        rates = {records[key].video_name: float(h5[key]["fps"][()]) for key in records}
    for record in records.values():
        n_frames, fps, users = REAL_SUMME[record.video_name]
        raw = scipy.io.loadmat(str(default_summe_gt_path() / f"{record.video_name}.mat"))
        assert raw["user_score"].dtype == np.uint8 and raw["user_score"].shape == (n_frames, users)
        assert record.n_frames == n_frames == int(raw["nFrames"][0, 0])
        assert record.user_summary.shape == (users, n_frames)
        assert np.array_equal(record.user_summary, (raw["user_score"] > 0).T)
        assert np.array_equal(record.picks, np.arange(0, n_frames, 15))
        assert np.allclose(record.gtscore, (raw["user_score"] > 0).mean(axis=1)[record.picks])
        assert record.change_points[0, 0] == 0 and record.change_points[-1, 1] == n_frames - 1
        assert rates[record.video_name] == pytest.approx(float(fps)) == pytest.approx(float(raw["FPS"][0, 0]))
    assert sorted({r.user_summary.shape[0] for r in records.values()}) == [15, 16, 17, 18]
    description = json.loads(out.with_suffix(".json").read_text())
    splits = read_splits_file(out.with_name(description["splits"]), "SumMe")
    assert len(splits) == 4 and sorted(k for s in splits for k in s.test_keys) == sorted(records)
