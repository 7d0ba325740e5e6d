"""Long runs and their output: a sign of life within an epoch and while many videos are scored, one line per
warning cause however many videos, torch's refusals in the project's words, a reader that goes away
(``| head``), and help texts as they are meant to read."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import torch_state_restored

REPO = Path(__file__).resolve().parents[1]


def run_main(main, argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with torch_state_restored(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------------------------------------
# progress within an epoch and while scoring


def test_an_epoch_and_scoring_of_many_videos_show_a_bar_that_quiet_hides(eccv16_dirs, tmp_path, monkeypatch):
    import inference
    import train
    from training import hooks

    base = [*eccv16_dirs.flags(), "--weights-dir", str(tmp_path / "w"), "--results-dir", str(tmp_path / "r"),
            "--device", "cpu", "--datasets", "SumMe", "--splits", "1"]
    train_argv = [*base, "--no-pretrained", "--epochs", "2"]
    status, _, err = run_main(train.main, [*train_argv, "--quiet"])
    assert status == 0 and "video" not in err                       # --quiet: no bar at all
    status, _, err = run_main(train.main, train_argv)
    assert status == 0 and "epoch 1: training" not in err           # 4 training videos: the epochs' bar only

    monkeypatch.setattr(hooks, "MANY_VIDEOS", 1)                    # every count is many
    status, _, err = run_main(train.main, train_argv)
    assert status == 0, err
    for bar in ("SumMe split 1 epoch 1: training:   0%", "SumMe split 1 epoch 2: training:   0%",
                "SumMe split 1 epoch 2: scoring:   0%"):
        assert bar in err, err
    assert "video_" not in err                                      # bars redraw in place: no line per video

    status, _, err = run_main(inference.main, base)
    assert status == 0 and "SumMe split 1: scoring" in err and "SumMe split 1: random scores" in err
    status, _, err = run_main(inference.main, [*base, "--quiet"])
    assert status == 0 and "scoring" not in err


# ---------------------------------------------------------------------------------------------
# one line per warning cause at scale


@pytest.mark.slow
def test_a_constant_output_checkpoint_on_300_videos_is_one_warning_line(tmp_path):
    """Mr.HiSum's protocol on 300 test videos, tau and rho undefined for every one: one line, not 4 a video."""
    import json

    import inference
    from config import Config
    from demo import make_mrhisum_like
    from model import build_model

    h5_path, split_path = make_mrhisum_like(tmp_path / "data", n_videos=302, min_steps=20, max_steps=30)
    keys = json.loads(split_path.read_text())
    every = keys["train_keys"] + keys["val_keys"] + keys["test_keys"]
    split_path.write_text(json.dumps({"train_keys": every[:1], "val_keys": every[1:2], "test_keys": every[2:]}))
    torch.manual_seed(0)
    state = build_model(Config(), pretrained=False).state_dict()
    state["linear2.0.weight"].zero_()                               # the same score for every step
    (tmp_path / "w" / "MrHiSum").mkdir(parents=True)
    torch.save(state, tmp_path / "w" / "MrHiSum" / "split1.pt")
    status, out, err = run_main(inference.main, ["--data-dir", str(h5_path.parent), "--splits-dir",
                                                 str(h5_path.parent), "--weights-dir", str(tmp_path / "w"),
                                                 "--results-dir", str(tmp_path / "r"), "--device", "cpu",
                                                 "--datasets", "MrHiSum", "--splits", "1", "--quiet"])
    assert status == 0, err
    named = ", ".join(f"mr_hisum.h5 {key}" for key in every[2:5])
    assert err.splitlines() == [f"warning: tau/rho undefined (constant scores or reference) for 300 videos "
                                f"({named} and 297 more); counted as 0"]


# ---------------------------------------------------------------------------------------------
# torch's refusals in the project's words


class RunsCode:
    def __reduce__(self):
        return os.system, ("echo this would run",)


#: What torch 2.4 and 2.5 said when ``weights_only`` refused a file (the first line styled with ANSI bold).
TORCH_2_4_REFUSAL = (
    "Weights only load failed. This file can still be loaded, to do so you have two options, \x1b[1mdo those steps "
    "only if you trust the source of the checkpoint\x1b[0m. \n\t(1) Re-running `torch.load` with `weights_only` set "
    "to `False` will likely succeed, but it can result in arbitrary code execution. Do it only if you got the file "
    "from a trusted source.\n\t(2) Alternatively, to load with `weights_only=True` please check the recommended "
    "steps in the following error message.\n\tWeightsUnpickler error: Unsupported global: GLOBAL posix.system was "
    "not an allowed global by default. Please use `torch.serialization.add_safe_globals([system])` to allowlist "
    "this global if you trust this class/function.")


def test_a_progress_file_that_would_run_code_is_refused_in_the_projects_words(tmp_path, monkeypatch):
    from storage import checkpoints

    path = tmp_path / "split1.progress.pt"
    torch.save({"epoch": 1, "model": RunsCode()}, path)
    expected = (f"{path}: refused: it holds objects a progress file never holds (posix.system); it was not "
                f"loaded. Delete it to train the split from the start")
    with pytest.raises(checkpoints.UnsafeFile) as raised:
        checkpoints.read_progress_file(path)
    assert str(raised.value) == expected                        # this torch's own wording, whatever it is

    def refuse(*args, **kwargs):
        raise pickle.UnpicklingError(TORCH_2_4_REFUSAL)

    monkeypatch.setattr(checkpoints.torch, "load", refuse)      # an older torch's wording
    with pytest.raises(checkpoints.UnsafeFile) as raised:
        checkpoints.read_progress_file(path)
    assert str(raised.value) == expected


def test_a_damaged_progress_file_is_named_without_terminal_codes(tmp_path, monkeypatch):
    from storage import checkpoints

    def damaged(*args, **kwargs):
        raise RuntimeError("\x1b[31mPytorchStreamReader failed reading zip archive: failed finding central "
                           "directory\x1b[0m and then a long explanation that goes on and on past any limit\nmore")

    monkeypatch.setattr(checkpoints.torch, "load", damaged)
    with pytest.raises(checkpoints.DamagedProgress) as raised:
        checkpoints.read_progress_file(tmp_path / "split1.progress.pt")
    message = str(raised.value)
    assert "\x1b" not in message and "\n" not in message
    assert message == (f"{tmp_path / 'split1.progress.pt'}: damaged progress file (PytorchStreamReader failed "
                       f"reading zip archive: failed finding central directory and then a long…)")


# ---------------------------------------------------------------------------------------------
# a reader that goes away


def test_a_closed_pipe_silences_the_stream_and_nothing_else():
    from storage.output import output_may_close

    read_end, write_end = os.pipe()
    stream = io.TextIOWrapper(io.FileIO(write_end, "w"), encoding="utf-8")
    os.close(read_end)                                          # the reader is gone
    saved = sys.stdout
    sys.stdout = stream
    try:
        with output_may_close():
            print("a line nobody reads", flush=True)
            print("and another")
        assert sys.stdout is stream
        stream.write("after the block, still quiet\n")
        stream.flush()
    finally:
        sys.stdout = saved
        stream.close()


@pytest.mark.slow
@pytest.mark.parametrize("unbuffered", [False, True])
def test_a_reader_that_goes_away_ends_the_output_not_the_run(eccv16_dirs, tmp_path, unbuffered):
    """``train.py ... | head -1``: every split is trained and saved, the status is 0, and nothing is said."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1" if unbuffered else ""}
    process = subprocess.Popen([sys.executable, str(REPO / "train.py"), *eccv16_dirs.flags(), "--weights-dir",
                                str(tmp_path / "w"), "--results-dir", str(tmp_path / "r"), "--no-pretrained",
                                "--device", "cpu", "--quiet", "--datasets", "SumMe", "--splits", "1", "2",
                                "--epochs", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = process.stdout.readline()
    process.stdout.close()                                      # as `head -1` does
    err = process.stderr.read().decode()
    assert process.wait(timeout=300) == 0, err
    assert first.startswith(b"CSTA ") and "error" not in err and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "w" / "SumMe").iterdir()) == ["split1.json", "split1.pt",
                                                                            "split2.json", "split2.pt"]


# ---------------------------------------------------------------------------------------------
# help texts


@pytest.mark.parametrize("module", ["train", "inference", "summarize", "evaluation.__main__", "evaluation.compare",
                                    "video.make_dataset", "demo.eccv16", "demo.mrhisum"])
def test_every_help_text_reads_as_written(module, capsys):
    main = importlib.import_module(module).main
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    text = capsys.readouterr().out
    assert done.value.code == 0 and text.startswith("usage:")
    assert "%%" not in text and "%(" not in text
