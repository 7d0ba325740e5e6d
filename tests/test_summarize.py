"""``summarize.py`` end to end on a synthetic video with planted scene changes, and its bad inputs."""

import contextlib
import io
import json
import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import av
import numpy as np
import pytest
import torch

import summarize
from video import batch
from video.io import Segment, probe, write_summary

ROOT = Path(__file__).resolve().parents[1]
SCENES = [22, 17, 24, 16, 21, 20]          # frames per planted scene: cuts at 22, 39, 63, 79, 100
SAMPLE_RATE = 4
VMAX = 0.02   # random-network features tell scenes apart by a few percent of cosine similarity
FPS = 25


def write_planted_video(path, scene_lengths, size=(64, 48), fps=FPS, seed=0, pixel_format="yuv420p"):
    """One colour and texture per scene, fresh noise on every frame."""
    rng = np.random.default_rng(seed)
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pixel_format
        for length in scene_lengths:
            colour, texture = rng.integers(0, 256, 3), rng.integers(0, 256, (height, width, 3))
            for _ in range(length):
                image = 0.6 * colour + 0.4 * texture + rng.normal(0, 8, (height, width, 3))
                frame = av.VideoFrame.from_ndarray(image.clip(0, 255).astype(np.uint8), format="rgb24")
                container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def count_frames(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate, size = stream.average_rate, (stream.codec_context.width, stream.codec_context.height)
        return sum(1 for _ in container.decode(stream)), rate, size


@pytest.fixture(scope="module")
def run(tmp_path_factory, checkpoint):
    """One call of summarize.py with a good video and every kind of bad input."""
    folder = tmp_path_factory.mktemp("inputs")
    good = folder / "scenes.mp4"
    write_planted_video(good, SCENES)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.mp4").write_text("not a video\n" * 20)
    write_planted_video(folder / "whole.mp4", [40, 40], seed=1)
    data = (folder / "whole.mp4").read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (folder / "whole.mp4").unlink()
    out = tmp_path_factory.mktemp("out")
    inputs = [good, folder / "missing.mp4", folder / "empty.mp4", folder / "notes.mp4", folder / "truncated.mp4"]
    argv = [*map(str, inputs), "--weights", str(checkpoint), "--out", str(out), "--no-pretrained",
            "--sample-every", str(SAMPLE_RATE), "--vmax", str(VMAX), "--device", "cpu", "--timings"]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = summarize.main(argv)
    return subprocess.CompletedProcess(["summarize.py", *argv], status, stdout.getvalue(), stderr.getvalue()), out


@pytest.mark.slow
def test_bad_inputs_are_named_and_the_good_one_succeeds(run):
    result, out = run
    assert result.returncode == 2, result.stderr
    for name in ("missing.mp4", "empty.mp4", "notes.mp4", "truncated.mp4"):
        assert name in result.stderr
    assert "no such file" in result.stderr
    assert "file is empty" in result.stderr
    assert "1 of 5 input(s) summarised" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["scenes.html", "scenes.json", "scenes.png",
                                                     "scenes.summary.mp4"]


@pytest.mark.slow
def test_shots_line_up_with_planted_cuts(run):
    _, out = run
    record = json.loads((out / "scenes.json").read_text())
    planted = np.cumsum(SCENES)[:-1]
    starts = np.array([shot["start_frame"] for shot in record["shots"]][1:])
    assert starts.tolist() == planted.tolist()        # each cut at its exact frame, not a multiple of 4
    assert record["frames"] == sum(SCENES)
    ends = [shot["end_frame"] for shot in record["shots"]]
    assert ends[-1] == sum(SCENES) - 1
    assert [s["start_frame"] for s in record["shots"][1:]] == [e + 1 for e in ends[:-1]]


@pytest.mark.slow
def test_summary_video_holds_the_selected_frames(run):
    _, out = run
    record = json.loads((out / "scenes.json").read_text())
    selected = [shot for shot in record["shots"] if shot["selected"]]
    assert selected and [s["index"] for s in selected] == record["selected_shots"]
    expected = sum(shot["frames"] for shot in selected)
    assert expected == record["summary"]["frames"] <= record["summary"]["budget_frames"]
    frames, rate, size = count_frames(out / "scenes.summary.mp4")
    assert frames == expected
    assert rate == FPS and size == (64, 48)
    assert record["settings"]["sample_every"] == SAMPLE_RATE and record["settings"]["ratio"] == 0.15
    assert len(record["steps"]["scores"]) == -(-sum(SCENES) // SAMPLE_RATE)


@pytest.mark.slow
def test_plot_is_written(run):
    _, out = run
    assert (out / "scenes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_timings_table_lists_every_stage(run):
    result, _ = run
    for stage in ("decode", "features", "kts", "scoring", "encode"):
        assert f"  {stage} " in result.stdout


def test_offline_without_imagenet_weights_names_the_file(tmp_path, monkeypatch, capsys, checkpoint):
    def no_internet(url, *args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_internet)
    video = tmp_path / "clip.mp4"
    write_planted_video(video, [5])
    status = summarize.main([str(video), "--weights", str(checkpoint), "--out", str(tmp_path / "out"),
                             "--device", "cpu", "--quiet"])
    message = capsys.readouterr().err
    assert status == 2
    assert "googlenet-1378be20.pth" in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in message
    assert "--no-pretrained" in message


def test_video_shorter_than_one_sample_gives_a_clear_result(tmp_path, capsys, checkpoint):
    video = tmp_path / "blink.mp4"
    write_planted_video(video, [6])
    status = summarize.main([str(video), "--weights", str(checkpoint), "--out", str(tmp_path),
                             "--no-pretrained", "--device", "cpu", "--quiet"])
    output = capsys.readouterr().out
    assert status == 0
    assert "no shot fits" in output
    record = json.loads((tmp_path / "blink.json").read_text())
    assert record["frames"] == 6 and len(record["shots"]) == 1
    assert record["summary"]["video"] is None and not (tmp_path / "blink.summary.mp4").exists()
    assert (tmp_path / "blink.png").exists()


def test_outputs_never_overwrite_inputs(tmp_path, capsys, checkpoint):
    write_planted_video(tmp_path / "clip.mp4", [5])
    write_planted_video(tmp_path / "clip.summary.mp4", [5], seed=2)
    before = (tmp_path / "clip.summary.mp4").read_bytes()
    status = summarize.main([str(tmp_path / "clip.mp4"), str(tmp_path / "clip.summary.mp4"),
                             "--weights", str(checkpoint), "--out", str(tmp_path),
                             "--no-pretrained", "--device", "cpu", "--quiet"])
    error = capsys.readouterr().err
    assert status == 2
    assert "refusing to write" in error and "clip.summary.mp4" in error
    assert (tmp_path / "clip.summary.mp4").read_bytes() == before


def test_same_names_in_two_folders_do_not_overwrite_each_other(tmp_path):
    claimed = {}
    inputs = {tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.mp4"}
    batch.plan_outputs(tmp_path / "a" / "clip.mp4", tmp_path / "out", inputs, claimed)
    with pytest.raises(batch.OutputConflict, match="would overwrite"):
        batch.plan_outputs(tmp_path / "b" / "clip.mp4", tmp_path / "out", inputs, claimed)


def test_a_name_clash_is_refused_before_any_video_is_read(tmp_path, capsys, checkpoint):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        write_planted_video(tmp_path / folder / "clip.mp4", [5])
    out = tmp_path / "out"
    status = summarize.main([str(tmp_path / "a"), str(tmp_path / "b"), "--weights", str(checkpoint), "--out", str(out),
                             "--no-pretrained", "--device", "cpu", "--quiet"])
    assert status == 2
    assert "would overwrite that of" in capsys.readouterr().err
    assert not out.exists()


def test_an_index_html_of_someone_else_is_left_as_it_is(tmp_path, capsys, checkpoint):
    (tmp_path / "videos").mkdir()
    write_planted_video(tmp_path / "videos" / "clip.mp4", [30, 30, 30])
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("<h1>my photo album</h1>")
    status = summarize.main([str(tmp_path / "videos"), "--weights", str(checkpoint), "--out", str(out),
                             "--no-pretrained", "--device", "cpu", "--quiet"])
    assert status == 0
    assert (out / "index.html").read_text() == "<h1>my photo album</h1>"
    assert "was not written by summarize.py; it is left as it is" in capsys.readouterr().out
    assert (out / "clip.html").is_file()


@pytest.mark.parametrize("name", ["clip.json", "clip.html", "clip.png", "clip.summary.mp4"])
def test_a_file_this_tool_did_not_write_is_never_replaced(tmp_path, capsys, checkpoint, name):
    write_planted_video(tmp_path / "clip.mp4", [30, 30, 30])
    out = tmp_path / "out"
    out.mkdir()
    if name.endswith(".mp4"):
        write_planted_video(out / name, [5], seed=3)        # someone's own video
    else:
        (out / name).write_bytes(b"my own file")
    before = (out / name).read_bytes()
    status = summarize.main([str(tmp_path / "clip.mp4"), "--weights", str(checkpoint), "--out", str(out),
                             "--no-pretrained", "--device", "cpu", "--quiet", "--ratio", "0.5"])
    assert status == 2
    assert f"{out / name} exists and was not written by summarize.py; it is left as it is" in capsys.readouterr().err
    assert (out / name).read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == [name]             # refused before anything was written


@pytest.mark.slow
def test_files_of_a_summary_killed_before_its_json_are_replaced(tmp_path, checkpoint):
    write_planted_video(tmp_path / "clip.mp4", [30, 30, 30])
    out = tmp_path / "out"
    common = [str(tmp_path / "clip.mp4"), "--weights", str(checkpoint), "--out", str(out), "--no-pretrained",
              "--device", "cpu", "--quiet", "--ratio", "0.5"]
    assert summarize.main(common) == 0
    (out / "clip.json").unlink()                        # killed after the video, plot and page, before the JSON
    assert summarize.main(common) == 0
    assert (out / "clip.json").is_file()


def test_folders_are_searched_for_video_extensions(tmp_path, capsys):
    for name in ("b.MP4", "a.mkv", "notes.txt", "c.webm", "a.summary.mp4"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    videos, problems = batch.collect_inputs([str(tmp_path), str(tmp_path / "empty")])
    assert [p.name for p in videos] == ["a.mkv", "b.MP4", "c.webm"]
    assert len(problems) == 1 and "empty" in problems[0]


def test_missing_checkpoint_is_reported(tmp_path, capsys):
    status = summarize.main([str(tmp_path), "--weights", str(tmp_path / "nope.pt"), "--out",
                             str(tmp_path / "out"), "--no-pretrained", "--device", "cpu"])
    assert status == 2
    message = capsys.readouterr().err
    assert "nope.pt" in message and "python train.py" in message


@pytest.mark.slow
def test_temporary_files_are_not_left_behind(run):
    _, out = run
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert os.listdir(out)


def test_odd_frame_sizes_are_written_in_yuv420p_at_an_even_size(tmp_path):
    write_planted_video(tmp_path / "odd.mp4", [30, 30, 30], size=(65, 49), pixel_format="yuv444p")
    segment = Segment(10, 19, 10 / FPS, 20 / FPS)
    assert write_summary(probe(tmp_path / "odd.mp4"), tmp_path / "odd.summary.mp4", [segment]).frames == 10
    assert count_frames(tmp_path / "odd.summary.mp4") == (10, FPS, (66, 50))
    with av.open(str(tmp_path / "odd.summary.mp4")) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
    head = (tmp_path / "odd.summary.mp4").read_bytes()[:4096]
    assert head.find(b"moov") != -1 and head.find(b"moov") < max(head.find(b"mdat"), 4096)   # +faststart


@pytest.mark.slow
def test_a_rerun_that_selects_nothing_removes_the_earlier_summary(tmp_path, capsys, checkpoint):
    video = tmp_path / "clip.mp4"
    write_planted_video(video, [30, 30, 30])
    out = tmp_path / "out"
    common = [str(video), "--weights", str(checkpoint), "--out", str(out), "--no-pretrained", "--device", "cpu",
              "--quiet", "--sample-every", str(SAMPLE_RATE), "--vmax", str(VMAX)]
    assert summarize.main([*common, "--ratio", "0.5"]) == 0
    assert json.loads((out / "clip.json").read_text())["summary"]["video"] == "clip.summary.mp4"
    assert (out / "clip.summary.mp4").exists()
    assert summarize.main([*common, "--ratio", "0.01"]) == 0           # no shot fits in 0 frames
    record = json.loads((out / "clip.json").read_text())
    assert record["summary"]["video"] is None and "no shot fits" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["clip.html", "clip.json", "clip.png"]


def saved_weights(path, change) -> Path:
    from config import Config
    from model import build_model

    state = build_model(Config(), pretrained=False).state_dict()
    for tensor in state.values():
        if tensor.is_floating_point():
            change(tensor)
    torch.save(state, path)
    return path


def summarise_two(tmp_path, weights):
    for name in ("a", "b"):
        write_planted_video(tmp_path / f"{name}.mp4", [10, 10], seed=len(name))
    return summarize.main([str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4"), "--weights", str(weights),
                           "--out", str(tmp_path / "out"), "--no-pretrained", "--device", "cpu", "--quiet"])


def test_a_checkpoint_with_nan_weights_is_one_line_naming_it(tmp_path, capsys):
    weights = saved_weights(tmp_path / "diverged.pt", lambda tensor: tensor.fill_(float("nan")))
    assert summarise_two(tmp_path, weights) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"error: {weights}: ") and "NaN or infinite" in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_weights_that_overflow_into_nan_scores_are_one_line_naming_the_checkpoint_and_the_video(tmp_path, capsys):
    weights = saved_weights(tmp_path / "huge.pt", lambda tensor: tensor.mul_(1e30))     # finite, but not for long
    assert summarise_two(tmp_path, weights) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"error: {weights}: gives NaN or infinite scores for {tmp_path / 'a.mp4'}")
    assert not (tmp_path / "out" / "a.json").exists() and not (tmp_path / "out" / "b.json").exists()


def test_frames_above_the_pixel_limit_are_refused_by_name(tmp_path, capsys, checkpoint, monkeypatch):
    import video.io

    monkeypatch.setattr(video.io, "MAX_PIXELS", 64 * 48 - 1)
    write_planted_video(tmp_path / "huge.mp4", [10, 10])
    status = summarize.main([str(tmp_path / "huge.mp4"), "--weights", str(checkpoint), "--out", str(tmp_path / "out"),
                             "--no-pretrained", "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert status == 2
    assert f"error: {tmp_path / 'huge.mp4'}: frames of 64×48 (3,072 pixels) are larger than this tool takes" in err
    assert "Traceback" not in err and not (tmp_path / "out" / "huge.json").exists()


def test_large_summaries_are_scaled_to_h264s_largest_level_and_encoded_with_few_frames_held():
    from video.io import ENCODER_FRAME_BUDGET, MAX_SUMMARY_MACROBLOCKS, encoder_options, summary_size

    assert summary_size(1920, 1080) == (1920, 1080) and summary_size(65, 49) == (66, 50)
    assert summary_size(7680, 4320) == (7680, 4320)                    # 8K UHD fits level 6.2
    width, height = summary_size(8192, 8192)
    assert -(-width // 16) * -(-height // 16) <= MAX_SUMMARY_MACROBLOCKS and width == height >= 5900
    width, height = summary_size(8192, 2000)
    assert width == 8192 and height == 2000
    assert encoder_options(1920, 1080) == {"crf": "18", "preset": "fast"}
    for size in ((7680, 4320), summary_size(8192, 8192)):
        params = dict(item.split("=") for item in encoder_options(*size)["x264-params"].split(":"))
        held = int(params["rc-lookahead"]) + int(params["bframes"]) + int(params["ref"])
        assert params["sliced-threads"] == "1" and held * 4 * size[0] * size[1] <= ENCODER_FRAME_BUDGET


def test_a_bad_option_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "summarize.py"), str(tmp_path), "--sample-every", "0"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == ("summarize.py: error: argument --sample-every: must be at least 1, got 0 "
                                     "(see --help)")


@pytest.mark.slow
def test_an_unusable_record_is_one_line_and_options_from_the_command_line_ignore_it(tmp_path, capsys, checkpoint):
    weights = tmp_path / "split1.pt"
    weights.write_bytes(Path(checkpoint).read_bytes())
    weights.with_suffix(".json").write_text(json.dumps({"config": "not options"}))
    write_planted_video(tmp_path / "clip.mp4", [10, 10])
    common = [str(tmp_path / "clip.mp4"), "--weights", str(weights), "--out", str(tmp_path / "out"),
              "--no-pretrained", "--device", "cpu", "--quiet"]
    assert summarize.main(common) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {weights.with_suffix('.json')}: field 'config': expected an object of options, found a "
                   f"str; pass --options-from command-line to ignore the record")
    assert summarize.main([*common, "--options-from", "command-line"]) == 0
    record = json.loads((tmp_path / "out" / "clip.json").read_text())
    assert record["settings"]["model_options_from"] == "the command line"


@pytest.mark.parametrize("stop, status", [(KeyboardInterrupt, 130), ("Terminated", 143)])
def test_ctrl_c_and_sigterm_stop_with_one_line(tmp_path, capsys, monkeypatch, stop, status):
    from storage.stopping import Terminated

    def stopped(args):
        raise Terminated() if stop == "Terminated" else stop()

    monkeypatch.setattr(batch, "run", stopped)
    assert summarize.main([str(tmp_path), "--out", str(tmp_path / "out")]) == status
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "the videos summarised before keep their outputs" in err
