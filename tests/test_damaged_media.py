"""Damaged media decode as players decode them: a packet that does not decode is skipped and counted, the
frames and sound after it are kept, and the loss is reported with counts; on generated files damaged
here and on OpenCV's sample ``Megamind.avi`` (an undecodable AC3 packet at its start; fetched with pip)."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import warnings
from pathlib import Path

import av
import numpy as np
import pytest

import summarize
from tests.test_video_sources import write_video
from video.io import FrameReader, PartialVideoWarning, probe
from video.make_dataset import main as make_dataset

pytestmark = pytest.mark.slow

SCENES = [60, 70, 55, 65]                   # 250 frames at 25 fps: 10 s
DAMAGED_PACKETS = (110, 170)


def packet_places(path, kind: str) -> list[tuple[int, int]]:
    """(file offset, size) of every packet of the file's first ``kind`` stream, in file order."""
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return [(packet.pos, packet.size) for packet in container.demux(stream) if packet.size]


def overwrite_packets(source, target, kind: str, indices, seed: int = 7) -> None:
    """A copy of ``source`` whose ``kind`` packets ``indices`` are overwritten with garbage (at most 300 bytes
    each, from the packet's first byte: the container's own structure stays intact)."""
    data = bytearray(Path(source).read_bytes())
    places = packet_places(source, kind)
    rng = np.random.default_rng(seed)
    for index in indices:
        offset, size = places[index]
        length = min(300, size)
        data[offset: offset + length] = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
    Path(target).write_bytes(data)


def frames_decoded_in_one_call(path, kind: str = "video") -> int:
    """What ``container.decode`` gives before its first error: the way this tool used to decode."""
    count = 0
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(getattr(container.streams, kind)[0]):
                count += frame.samples if kind == "audio" else 1
    except av.FFmpegError:
        pass
    return count


def summarise(paths, checkpoint, out, *extra) -> int:
    return summarize.main([*map(str, paths), "--weights", str(checkpoint), "--out", str(out), "--no-pretrained",
                           "--device", "cpu", "--quiet", "--vmax", "0.02", *extra])


@pytest.fixture(scope="module")
def damaged_h264(tmp_path_factory):
    """A 10 s H.264 clip with sound, and a copy with two video packets in its middle overwritten."""
    folder = tmp_path_factory.mktemp("damaged")
    clean = folder / "clean.mp4"
    write_video(clean, SCENES, fps=25, audio=True)
    damaged = folder / "damaged.mp4"
    overwrite_packets(clean, damaged, "video", DAMAGED_PACKETS)
    return clean, damaged


def test_two_damaged_packets_cost_two_frames_not_the_rest_of_the_video(damaged_h264):
    clean, damaged = damaged_h264
    assert frames_decoded_in_one_call(clean) == 250
    assert frames_decoded_in_one_call(damaged) < DAMAGED_PACKETS[0] + 5      # one call stops at the first
    reader = FrameReader(probe(damaged))
    with pytest.warns(PartialVideoWarning) as caught:
        times = [frame.time for frame in reader]
    assert reader.frames == len(times) >= 245
    assert 1 <= reader.report.skipped <= 4 and reader.report.packets == 250 and reader.report.stopped is None
    assert f"{reader.report.skipped} of 250 video packets did not decode" in reader.warning
    assert f"({reader.frames} frames decoded" in reader.warning
    assert str(damaged) in str(caught[0].message)
    assert times[-1] == pytest.approx(249 / 25, abs=1e-3)        # the frames after the damage keep their times


def test_a_whole_file_decodes_without_a_warning(damaged_h264):
    clean, _ = damaged_h264
    reader = FrameReader(probe(clean))
    with warnings.catch_warnings():
        warnings.simplefilter("error", PartialVideoWarning)
        assert sum(1 for _ in reader) == 250
    assert reader.warning is None and reader.report.skipped == 0


def test_summarize_keeps_the_frames_after_the_damage_and_counts_the_loss(damaged_h264, checkpoint, tmp_path,
                                                                         capsys):
    _, damaged = damaged_h264
    assert summarise([damaged], checkpoint, tmp_path, "--ratio", "0.5") == 0
    output = capsys.readouterr().out
    record = json.loads((tmp_path / "damaged.json").read_text())
    video = record["decoding"]["video"]
    assert record["frames"] == video["frames"] >= 245
    assert 1 <= video["skipped_packets"] <= 4 and video["packets"] == 250
    assert f"{video['skipped_packets']} of 250 video packets did not decode" in record["warning"]
    assert f"warning: {damaged}: {video['skipped_packets']} of 250 video packets" in output
    assert record["decoding"]["audio"]["skipped_packets"] == 0
    assert record["shots"][-1]["end_frame"] == record["frames"] - 1


def test_an_undecodable_audio_packet_costs_its_own_sound_only(tmp_path, checkpoint, capsys):
    clean = tmp_path / "clean.mp4"
    write_video(clean, [40, 45, 50, 38], audio=True)
    damaged = tmp_path / "sound.mp4"
    overwrite_packets(clean, damaged, "audio", [0, 60])
    assert frames_decoded_in_one_call(damaged, "audio") == 0       # one call stops at the first packet: silence
    assert summarise([damaged], checkpoint, tmp_path / "out", "--ratio", "1") == 0
    output = capsys.readouterr().out
    record = json.loads((tmp_path / "out" / "sound.json").read_text())
    audio = record["decoding"]["audio"]
    assert audio["skipped_packets"] == 2 and audio["seconds"] > 0.9 * 173 / 30
    assert f"warning: {damaged}: 2 of {audio['packets']} audio packets did not decode" in output
    with av.open(str(tmp_path / "out" / "sound.summary.mp4")) as container:
        lengths = {s.type: float(s.duration * s.time_base) for s in container.streams}
        samples = sum(frame.samples for frame in container.decode(audio=0))
    assert abs(lengths["audio"] - lengths["video"]) <= 1 / 30           # the gaps are silence: still in sync
    assert samples / 48000 == pytest.approx(lengths["video"], abs=0.05)


def test_make_dataset_skips_damaged_packets_and_says_how_many(damaged_h264, tmp_path, capsys):
    clean, damaged = damaged_h264
    frames = 250
    selections = {"clean": [[[0, 49]]], "damaged": [[[0, 49]]]}
    (tmp_path / "sel.json").write_text(json.dumps(selections))
    status = make_dataset([str(clean), str(damaged), "--out", str(tmp_path / "mine.h5"), "--annotations",
                           str(tmp_path / "sel.json"), "--format", "intervals", "--folds", "2", "--sample-every", "25",
                           "--no-pretrained", "--device", "cpu"])
    output = capsys.readouterr().out
    assert status == 0
    line = next(line for line in output.splitlines() if line.startswith("video_2:"))
    recovered = int(line.split(": ")[2].split()[0])
    assert 245 <= recovered < frames
    assert f"warning: {damaged}: " in output and "of 250 video packets did not decode" in output


# ------------------------------------------------------------------ OpenCV's sample, fetched with pip


@pytest.fixture(scope="module")
def megamind(tmp_path_factory):
    """``samples/data/Megamind.avi`` (MPEG-4 video, AC3 sound) from the opencv-python source archive."""
    folder = tmp_path_factory.mktemp("opencv")
    fetched = subprocess.run([sys.executable, "-m", "pip", "download", "opencv-python==4.10.0.84", "--no-deps",
                              "--no-binary", "opencv-python", "-d", str(folder), "-q"], capture_output=True,
                             timeout=600)
    archives = list(folder.glob("opencv[-_]python-*.tar.gz"))
    if fetched.returncode != 0 or not archives:
        pytest.skip("opencv-python's source archive could not be fetched (offline?)")
    with tarfile.open(archives[0]) as archive:
        for member in archive:
            if member.name.endswith("/samples/data/Megamind.avi"):
                (folder / "Megamind.avi").write_bytes(archive.extractfile(member).read())
                break
    if not (folder / "Megamind.avi").exists():
        pytest.skip("Megamind.avi is not in this opencv-python archive")
    return folder / "Megamind.avi"


def test_megamind_keeps_its_sound(megamind, checkpoint, tmp_path, capsys):
    assert frames_decoded_in_one_call(megamind, "audio") == 0          # its first AC3 packet does not decode
    assert summarise([megamind], checkpoint, tmp_path, "--ratio", "1") == 0
    output = capsys.readouterr().out
    record = json.loads((tmp_path / "Megamind.json").read_text())
    audio = record["decoding"]["audio"]
    assert audio["skipped_packets"] == 1 and audio["seconds"] >= 11.0
    assert record["frames"] == 270 and record["decoding"]["video"]["skipped_packets"] == 0
    assert f"warning: {megamind}: 1 of {audio['packets']} audio packets did not decode" in output
    with av.open(str(tmp_path / "Megamind.summary.mp4")) as container:
        lengths = {s.type: float(s.duration * s.time_base) for s in container.streams}
        samples = sum(frame.samples for frame in container.decode(audio=0))
        rate = container.streams.audio[0].rate
    assert lengths["video"] == pytest.approx(record["summary"]["duration_s"], abs=0.05)
    assert samples / rate >= 11.0 and abs(lengths["audio"] - lengths["video"]) <= 0.05
