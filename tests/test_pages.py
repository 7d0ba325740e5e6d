"""The pages, without a browser: summarize.py's NAME.html and index.html, inference.py's report.html.

A page must be one self-contained file (no network, no external script or style), hold one shot element
per shot of the JSON, and reference the source video and the pictures by relative paths that resolve.
``tests/test_pages_in_browser.py`` loads the same pages in Chromium.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import av
import numpy as np
import pytest

from tests.conftest import torch_state_restored

FPS = 25
#: Frames per planted scene: cuts at 1.2, 2.2, 3.6, 4.4 and 5.6 s.
SCENES = [30, 25, 35, 20, 30, 25]
#: The shots a hand-made record selects: two apart (a gap between them) and one right after the second.
SELECTED = (1, 3, 4)
COLOURS = [(200, 40, 40), (40, 160, 60), (40, 70, 200), (220, 190, 30), (150, 40, 170), (30, 180, 190)]


def write_scene_clip(path: Path, scenes=SCENES, size=(160, 120), fps=FPS) -> Path:
    """A clip of plain-coloured scenes with a moving white bar: H.264 (``.mp4``) or VP9 (``.webm``)."""
    width, height = size
    codec = "libvpx-vp9" if path.suffix == ".webm" else "libx264"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        index = 0
        for scene, length in enumerate(scenes):
            for _ in range(length):
                image = np.empty((height, width, 3), np.uint8)
                image[:] = COLOURS[scene % len(COLOURS)]
                bar = (index * 4) % (width - 10)
                image[:, bar: bar + 10] = 255
                container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
                index += 1
        container.mux(stream.encode(None))
    return path


class ColourFeatures:
    """A stand-in for GoogLeNet (seconds instead of a network): unit-norm features of each picture's colour,
    so that KTS finds the planted scenes."""

    batch_size = 32

    def __init__(self, *args, **kwargs):
        self.projection = np.random.default_rng(0).normal(size=(1024, 3))

    def __call__(self, batch):
        colours = np.median(np.asarray(batch).reshape(len(batch), -1, 3), axis=1) / 255.0 - 0.5     # not the bar
        features = np.tanh(colours @ self.projection.T * 3)
        return (features / np.linalg.norm(features, axis=1, keepdims=True)).astype(np.float32)


def hand_made_record(clip: Path, scenes=SCENES, selected=SELECTED, seed: int = 0) -> dict:
    """The JSON record summarize.py writes (``video.report.summary_record``), for planted shots and a chosen
    selection: what the page is fed."""
    from video.io import probe
    from video.pipeline import VideoSummary
    from video.report import summary_record

    info = probe(clip)
    n_frames = sum(scenes)
    ends = np.cumsum(scenes)
    shots = np.stack([ends - np.asarray(scenes), ends - 1], axis=1)
    sample_frames = np.arange(0, n_frames, 5)
    scores = np.random.default_rng(seed).uniform(0.2, 0.9, len(sample_frames))
    keep = np.zeros(n_frames, np.uint8)
    for index in selected:
        keep[shots[index][0]: shots[index][1] + 1] = 1
    frame_times = np.arange(n_frames) / FPS
    summary = VideoSummary(info=info, n_frames=n_frames, ratio=0.5, frame_times=frame_times, duration=n_frames / FPS,
                           sample_frames=sample_frames, step_scores=scores, shots=shots,
                           shot_scores=np.array([scores[(sample_frames >= a) & (sample_frames <= b)].mean()
                                                 for a, b in shots]),
                           selected=np.asarray(selected), keep=keep, budget=int(n_frames * 0.5))
    settings = {"weights": "weights/SumMe/split4.pt", "ratio": 0.5, "pretrained_features": True}
    return summary_record(summary, settings, None)


class PageParser(HTMLParser):
    """Every start tag with its attributes, and the text of inline scripts."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.tags if name == tag]


def parse(text: str) -> PageParser:
    parser = PageParser()
    parser.feed(text)
    return parser


def assert_self_contained(text: str) -> None:
    page = parse(text)
    assert not [a for a in page.all("script") if a.get("src")], "an external script"
    assert not [a for a in page.all("link") if a.get("rel") == "stylesheet"], "an external style sheet"
    for tag, attrs in page.tags:
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not re.match(r"^(https?:|//|ftp:|ws)", value), f"<{tag} {name}={value!r}> leaves the folder"
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text


def test_a_summary_page_is_self_contained_with_a_button_per_shot(tmp_path):
    from video.page import write_summary_page

    (tmp_path / "clips").mkdir()
    clip = write_scene_clip(tmp_path / "clips" / "my clip.mp4")
    record = hand_made_record(clip)
    page = tmp_path / "out" / "my clip.html"
    write_summary_page(record, page, clip)
    text = page.read_text(encoding="utf-8")
    assert_self_contained(text)
    parsed = parse(text)
    buttons = [a for a in parsed.all("button") if "data-shot" in a]
    assert len(buttons) == len(record["shots"]) == len(SCENES)
    assert len([a for _, a in parsed.tags if "data-shot" in a]) == len(record["shots"])      # one element each
    for attrs, shot in zip(buttons, record["shots"]):
        assert int(attrs["data-shot"]) == shot["index"]
        assert float(attrs["data-start"]) == pytest.approx(shot["start_s"], abs=1e-6)
        assert float(attrs["data-end"]) == pytest.approx(shot["end_s"], abs=1e-6)
        assert ("selected" in attrs["class"].split()) == shot["selected"]
        assert attrs["type"] == "button" and attrs["aria-label"]
    [video] = parsed.all("video")
    assert (page.parent / unquote(video["src"])).resolve() == clip.resolve()         # ../clips/my%20clip.mp4
    assert video["src"] == "../clips/my%20clip.mp4"
    [toggle] = [a for a in parsed.all("input") if a.get("id") == "only-selected"]
    assert toggle["type"] == "checkbox"
    assert len([a for a in parsed.all("rect") if a.get("class") == "band sel"]) == len(SELECTED)
    assert parsed.all("svg") and [a for a in parsed.all("line") if a.get("id") == "playhead"]


@pytest.mark.slow
def test_summarize_writes_a_page_per_video_and_an_index_for_a_folder(tmp_path, monkeypatch, checkpoint, capsys):
    import summarize
    from video import batch

    monkeypatch.setattr(batch, "GoogLeNetFeatures", ColourFeatures)
    folder = tmp_path / "videos"
    folder.mkdir()
    write_scene_clip(folder / "first.mp4")
    write_scene_clip(folder / "second.mp4", scenes=[40, 40, 45])
    out = tmp_path / "out"
    common = [str(folder), "--weights", str(checkpoint), "--out", str(out), "--device", "cpu", "--quiet",
              "--ratio", "0.5", "--vmax", "0.1"]
    with torch_state_restored():
        assert summarize.main(common) == 0
    assert {"first.html", "second.html", "index.html"} <= {p.name for p in out.iterdir()}
    for name in ("first", "second"):
        record = json.loads((out / f"{name}.json").read_text())
        text = (out / f"{name}.html").read_text(encoding="utf-8")
        assert_self_contained(text)
        assert text.count("data-shot=") == len(record["shots"]) > 1
        [video] = parse(text).all("video")
        assert (out / unquote(video["src"])).resolve() == (folder / f"{name}.mp4").resolve()
    first = json.loads((out / "first.json").read_text())
    assert [s["start_frame"] for s in first["shots"]] == [0, *np.cumsum(SCENES)[:-1].tolist()]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert_self_contained(index)
    assert [a["href"] for a in parse(index).all("a") if not a.get("tabindex")] == ["first.html", "second.html"]
    assert "index.html" in capsys.readouterr().out

    with torch_state_restored():                        # --no-html: the pages go, the index follows
        assert summarize.main([*common, "--no-html"]) == 0
    names = {p.name for p in out.iterdir()}
    assert "first.html" not in names and "second.html" not in names and "first.json" in names
    assert "first.html" not in (out / "index.html").read_text(encoding="utf-8")


def embedded(picture: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(picture.read_bytes()).decode("ascii")


def test_the_results_page_links_the_pictures_that_exist(tmp_path):
    from evaluation.protocols import PROTOCOLS
    from training.curves import split_figure
    from training.results_page import results_page

    protocol = PROTOCOLS["SumMe"]
    means = {"kendall": 0.1, "spearman": 0.12, "f1_max": 40.0, "f1_avg": 30.0, "f1": 40.0}
    pictures = tmp_path / "results"
    splits = {k: {"weights": f"w/SumMe/split{k}.pt", "videos": {"video_1": {**means, "summary_frames": 9}},
                  "mean": means, "curves": str(pictures / "SumMe_split2.png") if k == 2 else None,
                  "no_curves": "" if k == 2 else "the checkpoint has no record naming its training log"}
              for k in (1, 2)}
    results = {"SumMe": {"h5": "x.h5", "protocol": "SumMe", "splits": splits, "final": means,
                         "random_scores": {**means, "kendall": 0.0}}}
    log = [{"epoch": e, "loss": 1 / e, **means} for e in (1, 2, 3)]
    split_figure(pictures / "SumMe_split2.png", log, protocol, 2, "SumMe split 2", random=means)
    text = results_page(results, pictures, {"seed": 1}, json_name="inference.json")
    assert_self_contained(text)
    images = [a["src"] for a in parse(text).all("img")]
    assert images == [embedded(pictures / "SumMe_split2.png")]  # inside the page; split 1 has no picture
    assert "Kendall tau" in text and "0.100" in text and "40.0" in text
    assert "No training curves for split 1: the checkpoint has no record naming its training log." in text


def test_inference_writes_report_html_beside_its_json(finished_run, tmp_path):
    import inference

    out = tmp_path / "scores" / "inference.json"
    output = io.StringIO()
    with torch_state_restored(), contextlib.redirect_stdout(output):
        assert inference.main([*finished_run.dirs.flags(), "--weights-dir", str(finished_run.weights_dir),
                               "--results-dir", str(finished_run.results_dir), "--device", "cpu", "--splits", "1",
                               "--out", str(out)]) == 0
    page = out.with_name("report.html")
    assert page.is_file() and str(page) in output.getvalue()
    text = page.read_text(encoding="utf-8")
    assert_self_contained(text)
    images = [a["src"] for a in parse(text).all("img")]
    assert images == [embedded(finished_run.results_dir / f"{name}_split1.png") for name in ("SumMe", "TVSum")]
    results = json.loads(out.read_text())["datasets"]
    assert results["SumMe"]["protocol"] == "SumMe" and f'{results["SumMe"]["final"]["kendall"]:.3f}' in text


def test_a_checkpoint_shows_the_curves_of_its_own_training_only(tmp_path):
    from evaluation.protocols import PROTOCOLS
    from training.curves import checkpoint_picture, kept_epoch_identity, split_figure

    kept = {"epoch": 2, "loss": 0.25, "kendall": 0.1, "spearman": 0.125, "f1": 40.0, "f1_max": 40.0, "f1_avg": 30.0}
    log = [{**kept, "epoch": 1, "loss": 0.5}, kept]
    record = {"dataset": "SumMe", "split": 1, "selected_epoch": 2, "metrics": kept,
              "log": str(tmp_path / "cluster" / "SumMe_split1.jsonl")}      # written where it was trained
    here = tmp_path / "copied" / "SumMe_split1.png"
    split_figure(here, log, PROTOCOLS["SumMe"], 2, "t", identity=kept_epoch_identity("SumMe", 1, kept))
    assert checkpoint_picture(record, here.parent) == (here, "")           # found in the results folder given
    split_figure(here, [{**kept, "loss": 0.3}], PROTOCOLS["SumMe"], 2, "t",
                 identity=kept_epoch_identity("SumMe", 1, {**kept, "loss": 0.3}))       # another run's picture
    assert checkpoint_picture(record, here.parent) == (None, f"{here} is of another training run")
    assert checkpoint_picture({}, here.parent) == (None, "the checkpoint has no record of its training")
    here.unlink()
    assert checkpoint_picture(record, here.parent) == (None, f"no picture in {tmp_path / 'cluster'} or "
                                                             f"{here.parent}")


def run_inference(finished_run, out):
    import inference

    err = io.StringIO()
    with torch_state_restored(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = inference.main([*finished_run.dirs.flags(), "--weights-dir", str(finished_run.weights_dir),
                                 "--results-dir", str(finished_run.results_dir), "--device", "cpu", "--splits", "1",
                                 "--datasets", "SumMe", "--out", str(out)])
    return status, err.getvalue()


def test_each_results_file_gets_its_own_page_and_a_foreign_page_is_kept(finished_run, tmp_path):
    assert run_inference(finished_run, tmp_path / "first.json")[0] == 0
    assert run_inference(finished_run, tmp_path / "second.json")[0] == 0
    assert (tmp_path / "first.html").is_file() and (tmp_path / "second.html").is_file()
    assert 'href="second.json"' in (tmp_path / "second.html").read_text(encoding="utf-8")
    (tmp_path / "report.html").write_text("<p>my own notes</p>")
    status, err = run_inference(finished_run, tmp_path / "inference.json")
    assert status == 2 and err.count("\n") == 1 and "exists and was not written by inference.py" in err
    assert (tmp_path / "report.html").read_text() == "<p>my own notes</p>"
    assert not (tmp_path / "inference.json").exists()


def test_a_page_that_cannot_be_written_is_found_before_scoring(finished_run, tmp_path):
    (tmp_path / "report.html").mkdir()
    status, err = run_inference(finished_run, tmp_path / "inference.json")
    assert status == 2 and err == (f"error: --out: {tmp_path / 'report.html'}, the page written beside "
                                   f"inference.json, is a folder; choose another --out\n")
    assert not (tmp_path / "inference.json").exists()


def test_a_results_name_whose_page_is_another_results_page_is_refused(finished_run, tmp_path):
    status, err = run_inference(finished_run, tmp_path / "report.json")
    assert status == 2 and err == (f"error: --out: {tmp_path / 'report.json'}: its page would be report.html, the "
                                   f"page of inference.json in that folder; choose another name\n")
