"""One rule for every command's paths: a default path is in the checkout wherever the command runs, a relative
path given on the command line is relative to the working directory; and one exit status for a missing device."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import inference
import summarize
import train
from tests.test_summarize import write_planted_video

ROOT = Path(__file__).resolve().parents[1]


def test_default_paths_are_in_the_checkout_wherever_the_command_runs(tmp_path, monkeypatch):
    from evaluation.annotations import default_annotations_path
    from training.sources import DEMO_DATA_DIR

    monkeypatch.chdir(tmp_path)
    args = summarize.parse_args(["clip.mp4"])
    assert Path(args.weights) == ROOT / "weights" / "SumMe" / "split4.pt"
    assert Path(args.out) == ROOT / "summaries"
    for parse in (train.parse_arguments, inference.parse_arguments):
        config, _ = parse([])
        assert [Path(p) for p in (config.data_dir, config.splits_dir, config.weights_dir, config.results_dir)] == \
               [ROOT / "data", ROOT / "data" / "splits", ROOT / "weights", ROOT / "results"]
        demo, _ = parse(["--demo"])
        assert [Path(demo.weights_dir), Path(demo.results_dir)] == [ROOT / "weights" / "demo", ROOT / "results" / "demo"]
    assert DEMO_DATA_DIR == ROOT / "data" / "demo"
    assert default_annotations_path().parent == ROOT / "data"


def test_relative_paths_given_are_relative_to_the_working_directory(tmp_path, monkeypatch, capsys, checkpoint):
    work = tmp_path / "elsewhere"
    work.mkdir()
    shutil.copyfile(checkpoint, work / "mine.pt")
    write_planted_video(work / "clip.mp4", [6])
    monkeypatch.chdir(work)
    status = summarize.main(["clip.mp4", "--weights", "mine.pt", "--out", "out", "--no-pretrained", "--device", "cpu",
                             "--quiet", "--no-html"])
    assert status == 0, capsys.readouterr().err
    assert json.loads((work / "out" / "clip.json").read_text())["settings"]["weights"] == "mine.pt"
    config, _ = train.parse_arguments(["--weights-dir", "w", "--results-dir", "r", "--tensorboard", "tb"])
    assert (Path(config.weights_dir).resolve(), Path(config.results_dir).resolve(), Path(config.tensorboard).resolve()) \
        == (work / "w", work / "r", work / "tb")


@pytest.mark.slow
def test_summarize_run_from_another_folder_reads_the_checkouts_checkpoint(tmp_path, checkpoint):
    """As the issue ran it: ``cd /tmp && python /path/summarize.py v.mp4``; a decoy ``weights/SumMe/split4.pt`` in
    the working directory is not what the default names."""
    decoy = tmp_path / "weights" / "SumMe" / "split4.pt"
    decoy.parent.mkdir(parents=True)
    decoy.write_text("not the checkout's checkpoint")
    write_planted_video(tmp_path / "clip.mp4", [6])
    result = subprocess.run([sys.executable, str(ROOT / "summarize.py"), "clip.mp4", "--out", "out",
                             "--no-pretrained", "--device", "cpu", "--quiet", "--no-html"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    expected = ROOT / "weights" / "SumMe" / "split4.pt"
    if expected.is_file():                                     # a checkout where train.py has written it
        assert result.returncode == 0, result.stderr
        assert json.loads((tmp_path / "out" / "clip.json").read_text())["settings"]["weights"] == str(expected)
    else:
        assert result.returncode == 2
        assert result.stderr.startswith(f"error: {expected}: CSTA checkpoint not found")
    assert "not a PyTorch checkpoint" not in result.stderr


def test_a_device_that_is_not_here_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    status = summarize.main([str(tmp_path), "--device", "cuda", "--out", str(tmp_path / "out")])
    assert status == 2
    assert capsys.readouterr().err == ("error: --device cuda: CUDA is not available here (use --device cpu or "
                                       "--device auto)\n")
    assert not (tmp_path / "out").exists()
