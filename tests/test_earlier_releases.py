"""Outputs of earlier releases are the project's own: the current commands replace them, and still keep a
file that is someone else's. The files are what releases 5abfe37 and 41c564b wrote (tests/fixtures/
earlier_releases/README.md says how they were made)."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest

from tests.conftest import torch_state_restored

FIXTURES = Path(__file__).parent / "fixtures" / "earlier_releases"
RELEASES = ("5abfe37", "41c564b")
MARK = '<meta name="generator" content="CSTA {}">'


@pytest.mark.parametrize("release", RELEASES)
def test_the_pages_of_earlier_releases_are_known_as_the_tools_own(release):
    from storage.files import page_written_by

    report, summaries = FIXTURES / release / "report.html", FIXTURES / release / "summaries"
    assert MARK.format("inference.py") not in report.read_text(encoding="utf-8")      # before the mark
    assert page_written_by(report, "inference.py") and not page_written_by(report, "summarize.py")
    for page in (summaries / "clip.html", summaries / "index.html"):
        assert page_written_by(page, "summarize.py") and not page_written_by(page, "inference.py")


@pytest.mark.parametrize("change", [
    lambda text: text.replace("--ink: #1d2330", "--ink: #1d2331", 1),         # its style edited
    lambda text: text.replace("<title>CSTA results</title>", "<title>CSTA results</title><base href=x>", 1),
    lambda text: "<!-- mine -->\n" + text,
    lambda text: text.replace("</head>", "", 1),
])
def test_a_page_like_an_earlier_releases_but_changed_is_not_the_tools(tmp_path, change):
    from storage.files import page_written_by

    page = tmp_path / "report.html"
    page.write_text(change((FIXTURES / "41c564b" / "report.html").read_text(encoding="utf-8")), encoding="utf-8")
    assert not page_written_by(page, "inference.py")


def test_a_title_of_any_video_keeps_an_earlier_summary_page_known(tmp_path):
    from storage.files import page_written_by

    text = (FIXTURES / "41c564b" / "summaries" / "clip.html").read_text(encoding="utf-8")
    page = tmp_path / "page.html"
    page.write_text(text.replace("<title>clip.mp4", "<title>" + "Base jumping &amp; caf\u00e9 " * 40, 1),
                    encoding="utf-8")
    assert page_written_by(page, "summarize.py")


@pytest.mark.parametrize("release", RELEASES)
def test_inference_replaces_the_report_of_an_earlier_release(finished_run, tmp_path, release):
    import inference

    for name in ("report.html", "inference.json"):
        shutil.copyfile(FIXTURES / release / name, tmp_path / name)
    err = io.StringIO()
    with torch_state_restored(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = inference.main([*finished_run.dirs.flags(), "--weights-dir", str(finished_run.weights_dir),
                                 "--results-dir", str(finished_run.results_dir), "--device", "cpu", "--splits",
                                 "1", "--datasets", "SumMe", "--out", str(tmp_path / "inference.json")])
    assert status == 0, err.getvalue()
    assert MARK.format("inference.py") in (tmp_path / "report.html").read_text(encoding="utf-8")


def summarise(folder: Path, out: Path, checkpoint: Path, *extra: str) -> tuple[int, str, str]:
    import summarize

    output, err = io.StringIO(), io.StringIO()
    with torch_state_restored(), contextlib.redirect_stdout(output), contextlib.redirect_stderr(err):
        status = summarize.main([str(folder), "--weights", str(checkpoint), "--out", str(out), "--device", "cpu",
                                 "--quiet", "--ratio", "0.5", "--vmax", "0.1", *extra])
    return status, output.getvalue(), err.getvalue()


@pytest.fixture
def earlier_summaries(tmp_path, monkeypatch):
    """A folder of clip.mp4 and an --out folder as an earlier release left it, for each release in turn."""
    from tests.test_pages import ColourFeatures, write_scene_clip
    from video import batch

    monkeypatch.setattr(batch, "GoogLeNetFeatures", ColourFeatures)
    folder = tmp_path / "videos"
    folder.mkdir()
    write_scene_clip(folder / "clip.mp4")

    def out_of(release: str) -> Path:
        out = tmp_path / release
        shutil.copytree(FIXTURES / release / "summaries", out)
        return out

    return folder, out_of


@pytest.mark.slow
@pytest.mark.parametrize("release", RELEASES)
def test_summarize_replaces_the_pages_of_an_earlier_release(earlier_summaries, checkpoint, release):
    folder, out_of = earlier_summaries
    out = out_of(release)
    status, output, err = summarise(folder, out, checkpoint)
    assert status == 0, err
    for page in ("clip.html", "index.html"):
        assert MARK.format("summarize.py") in (out / page).read_text(encoding="utf-8")
    assert f"index of the summaries: {out / 'index.html'}" in output


@pytest.mark.slow
@pytest.mark.parametrize("release", RELEASES)
def test_skip_existing_still_refreshes_the_index_of_an_earlier_release(earlier_summaries, checkpoint, release):
    folder, out_of = earlier_summaries
    out = out_of(release)
    page_before = (out / "clip.html").read_bytes()
    status, output, err = summarise(folder, out, checkpoint, "--skip-existing")
    assert status == 0, err
    assert f"{folder / 'clip.mp4'}: skipped" in output and "(1 skipped, summarised before)" in output
    index = (out / "index.html").read_text(encoding="utf-8")
    assert MARK.format("summarize.py") in index and 'href="clip.html"' in index
    assert (out / "clip.html").read_bytes() == page_before                         # the skipped video's own


@pytest.mark.slow
def test_a_foreign_page_beside_an_earlier_summary_is_still_refused(earlier_summaries, checkpoint):
    folder, out_of = earlier_summaries
    out = out_of("41c564b")
    (out / "clip.html").write_text("<!DOCTYPE html><html><head><title>my notes</title></head></html>")
    status, output, err = summarise(folder, out, checkpoint)
    assert status == 2 and f"{out / 'clip.html'} exists and was not written by summarize.py" in err
    assert (out / "clip.html").read_text() == "<!DOCTYPE html><html><head><title>my notes</title></head></html>"
