"""What a training run lets you look at: ``--tensorboard`` event files read back with TensorBoard's own reader,
the per-split PNG beside its log, the ``--runs`` figure, and the random-scores level they draw."""

from __future__ import annotations

import contextlib
import io
import json
import math
import random
import sys

import numpy as np
import pytest
import torch

import train
import training.run
from config import Config
from tests.conftest import torch_state_restored

pytestmark = pytest.mark.filterwarnings("ignore::evaluation.UndefinedCorrelationWarning")

EPOCHS = 3
METRICS = ("kendall", "spearman", "f1_max", "f1_avg")


def assert_png_not_blank(path, min_size=(600, 400)):
    from PIL import Image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(path).convert("RGB")
    assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1]
    pixels = np.asarray(image).reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 20 and pixels.std() > 5


@pytest.fixture(scope="module")
def board_run(eccv16_dirs, tmp_path_factory):
    """SumMe split 1, 3 epochs, a cosine schedule, with --tensorboard."""
    pytest.importorskip("tensorboard")
    root = tmp_path_factory.mktemp("board_run")
    argv = [*eccv16_dirs.flags(), "--datasets", "SumMe", "--splits", "1", "--epochs", str(EPOCHS),
            "--lr-schedule", "cosine", "--no-pretrained", "--device", "cpu", "--quiet",
            "--weights-dir", str(root / "weights"), "--results-dir", str(root / "results"),
            "--tensorboard", str(root / "tb")]
    with torch_state_restored(), contextlib.redirect_stdout(io.StringIO()):
        assert train.main(argv) == 0
    return root


def scalars(folder) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}, events


def test_tensorboard_holds_every_epoch_of_the_split(board_run):
    found, events = scalars(board_run / "tb" / "SumMe_split1")
    log = [json.loads(line) for line in (board_run / "results" / "SumMe_split1.jsonl").read_text().splitlines()]
    record = json.loads((board_run / "weights" / "SumMe" / "split1.json").read_text())
    per_epoch = {"train/loss", "train/learning_rate", "selection/kept_epoch", *(f"selection/{m}" for m in METRICS)}
    assert set(found) == per_epoch                     # selected on the test videos: no test/ tags
    for tag in per_epoch:
        assert [step for step, _ in found[tag]] == list(range(1, EPOCHS + 1)), tag
    for entry, (_, loss) in zip(log, found["train/loss"]):
        assert loss == pytest.approx(entry["loss"], rel=1e-6)
    for metric in METRICS:
        assert [v for _, v in found[f"selection/{metric}"]] == pytest.approx([e[metric] for e in log], rel=1e-6,
                                                                            abs=1e-6)
    cosine = [1e-3 * (1 + math.cos(math.pi * (epoch - 1) / EPOCHS)) / 2 for epoch in range(1, EPOCHS + 1)]
    assert [v for _, v in found["train/learning_rate"]] == pytest.approx(cosine, rel=1e-6)     # 1e-3, 7.5e-4, 2.5e-4
    kept, running = [], 0
    for entry in log:
        running = entry["epoch"] if entry["selected"] else running
        kept.append(running)
    assert [v for _, v in found["selection/kept_epoch"]] == kept
    kept_epoch = record["selected_epoch"]
    assert kept[-1] == kept_epoch
    text = {tag: events.Tensors(f"{tag}/text_summary")[0].tensor_proto.string_val[0].decode()
            for tag in ("configuration", "kept_epoch")}
    assert "`lr_schedule` | `\"cosine\"`" in text["configuration"] and "`seed` | `123456`" in text["configuration"]
    assert f"epoch {kept_epoch} kept" in text["kept_epoch"]


def test_with_validation_videos_the_test_videos_come_at_the_end(eccv16_dirs, tmp_path):
    from training import load_bundle

    pytest.importorskip("tensorboard")
    config = Config(datasets=("SumMe",), splits=(1,), epochs=2, pretrained=False, device="cpu",
                    weights_dir=str(tmp_path / "w"), results_dir=str(tmp_path / "r"), tensorboard=str(tmp_path / "tb"))
    spec = eccv16_dirs.spec("SumMe")
    bundle = load_bundle(spec).with_validation(0.25, config.seed)          # selection videos != test videos
    with torch_state_restored():
        training.run.train_and_save(config, spec, 1, "cpu", False, 0, bundle=bundle)
    record = json.loads((tmp_path / "w" / "SumMe" / "split1.json").read_text())
    found, _ = scalars(tmp_path / "tb" / "SumMe_split1")
    assert record["test_metrics"] is not None
    for metric in METRICS:                              # the kept weights on the test videos, at the kept epoch
        assert found[f"test/{metric}"] == [(record["selected_epoch"],
                                            pytest.approx(record["test_metrics"][metric], rel=1e-6, abs=1e-6))]
        assert [step for step, _ in found[f"selection/{metric}"]] == [1, 2]


def test_each_split_gets_its_curves_beside_its_log(board_run):
    assert_png_not_blank(board_run / "results" / "SumMe_split1.png")


def test_a_missing_tensorboard_is_one_line_before_any_training(eccv16_dirs, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorboard", None)          # import tensorboard now fails
    status = train.main([*eccv16_dirs.flags(), "--datasets", "SumMe", "--splits", "1", "--epochs", "1",
                         "--no-pretrained", "--device", "cpu", "--quiet", "--weights-dir", str(tmp_path / "w"),
                         "--results-dir", str(tmp_path / "r"), "--tensorboard", str(tmp_path / "tb")])
    assert status == 2
    assert capsys.readouterr().err == "error: --tensorboard needs the tensorboard package: pip install tensorboard\n"
    assert not (tmp_path / "r").exists() and not (tmp_path / "tb").exists()


def test_tensorboard_is_a_run_option_that_inference_does_not_take():
    import dataclasses

    field = {f.name: f for f in dataclasses.fields(Config)}["tensorboard"]
    assert field.metadata["role"] == "run" and Config().tensorboard == ""
    assert "tensorboard" in Config.not_for_scoring()
    runs = training.run.run_directories(Config(tensorboard="tb", runs=2), 1)
    assert runs.tensorboard.endswith("tb/run2_seed123457")
    assert training.run.run_directories(Config(runs=2), 0).tensorboard == ""


def test_the_runs_figure_shows_every_split_over_the_runs(tmp_path, capsys):
    from evaluation.protocols import PROTOCOLS

    rng = np.random.default_rng(0)
    per_run = [{"SumMe": {k: {"kendall": rng.random(), "spearman": rng.random(), "f1": 100 * rng.random()}
                          for k in (1, 2, 3)}} for _ in range(3)]
    config = Config(runs=3, results_dir=str(tmp_path))
    training.run.runs_pictures(per_run, config, {"SumMe": PROTOCOLS["SumMe"]})
    assert_png_not_blank(tmp_path / "SumMe_runs.png", min_size=(900, 300))
    assert str(tmp_path / "SumMe_runs.png") in capsys.readouterr().out


def test_the_random_level_leaves_the_training_stream_alone(eccv16_dirs):
    from training import load_bundle
    from training.curves import random_level

    bundle = load_bundle(eccv16_dirs.spec("TVSum"))
    states = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    level = random_level(bundle, bundle.split(1).selection, draws=3, seed=0)
    assert torch.equal(states[0], torch.get_rng_state()) and np.array_equal(states[1], np.random.get_state()[1])
    assert states[2] == random.getstate()
    assert set(METRICS) <= set(level) and level == random_level(bundle, bundle.split(1).selection, draws=3, seed=0)


def board_argv(eccv16_dirs, root, *extra: str) -> list[str]:
    return [*eccv16_dirs.flags(), "--datasets", "SumMe", "--splits", "1", "--no-pretrained", "--device", "cpu",
            "--quiet", "--weights-dir", str(root / "w"), "--results-dir", str(root / "r"), *extra]


@pytest.mark.slow
def test_a_second_run_into_the_same_folder_shows_only_itself(eccv16_dirs, tmp_path):
    pytest.importorskip("tensorboard")
    with torch_state_restored(), contextlib.redirect_stdout(io.StringIO()):
        assert train.main(board_argv(eccv16_dirs, tmp_path / "a", "--epochs", "2", "--tensorboard",
                                     str(tmp_path / "tb"))) == 0
        assert train.main(board_argv(eccv16_dirs, tmp_path / "b", "--epochs", "1", "--seed", "5", "--tensorboard",
                                     str(tmp_path / "tb"))) == 0
    found, _ = scalars(tmp_path / "tb" / "SumMe_split1")
    second = [json.loads(line) for line in (tmp_path / "b" / "r" / "SumMe_split1.jsonl").read_text().splitlines()]
    assert found["train/loss"] == [(e["epoch"], pytest.approx(e["loss"], rel=1e-6)) for e in second]
    assert len(list((tmp_path / "tb" / "SumMe_split1").glob("events.out.tfevents.*"))) == 2     # the first is kept
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator

    served = EventAccumulator(str(tmp_path / "tb" / "SumMe_split1"))        # what `tensorboard --load_fast=false`
    served.Reload()                                                          # serves
    assert [event.step for event in served.Tensors("train/loss")] == [e["epoch"] for e in second]


@pytest.mark.slow
def test_a_resumed_split_shows_its_saved_epochs_once(eccv16_dirs, tmp_path):
    """The saved epochs come from the progress file's log, also when the stopped run had no --tensorboard."""
    from storage.checkpoints import progress_path
    from training import load_bundle, train_split

    pytest.importorskip("tensorboard")
    config = Config(datasets=("SumMe",), splits=(1,), epochs=3, pretrained=False, device="cpu",
                    weights_dir=str(tmp_path / "w"), results_dir=str(tmp_path / "r"))
    with torch_state_restored():
        train_split(config, load_bundle(eccv16_dirs.spec("SumMe")), 1, device=torch.device("cpu"), progress=False,
                    progress_path=progress_path(config.weights_dir, "SumMe", 1), stop_after=2)
        with contextlib.redirect_stdout(io.StringIO()):
            assert train.main(board_argv(eccv16_dirs, tmp_path, "--epochs", "3", "--resume", "--tensorboard",
                                         str(tmp_path / "tb"))) == 0
    found, _ = scalars(tmp_path / "tb" / "SumMe_split1")
    log = [json.loads(line) for line in (tmp_path / "r" / "SumMe_split1.jsonl").read_text().splitlines()]
    assert found["train/loss"] == [(e["epoch"], pytest.approx(e["loss"], rel=1e-6)) for e in log]
    assert [step for step, _ in found["train/learning_rate"]] == [1, 2, 3]


def test_a_broken_tensorboard_install_is_one_line(eccv16_dirs, tmp_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def failing(name, *args, **kwargs):
        if name == "tensorboard" or name.startswith("tensorboard."):
            raise TypeError("Descriptors cannot be created directly.\nIf this call came from a _pb2.py file ...")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing)
    assert train.main(board_argv(eccv16_dirs, tmp_path, "--epochs", "1", "--tensorboard", str(tmp_path / "tb"))) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tensorboard package cannot be imported (TypeError: Descriptors cannot" in err


@pytest.mark.parametrize("blocked", ["tb/SumMe_split1", "r/SumMe_split1.png", "r/SumMe_split1.jsonl"])
def test_a_place_the_run_cannot_write_is_found_before_training(eccv16_dirs, tmp_path, capsys, blocked):
    pytest.importorskip("tensorboard")
    target = tmp_path / blocked
    if blocked.startswith("tb/"):
        target.parent.mkdir(parents=True)
        target.write_text("a file where the split's TensorBoard folder goes")
    else:
        target.mkdir(parents=True)
    status = train.main(board_argv(eccv16_dirs, tmp_path, "--epochs", "1", "--tensorboard", str(tmp_path / "tb")))
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {target}") and err.count("\n") == 1
    assert not (tmp_path / "w" / "SumMe" / "split1.pt").exists()


def test_a_picture_that_cannot_be_written_costs_a_warning_not_the_split(eccv16_dirs, tmp_path, monkeypatch, capsys):
    import errno

    from training import curves

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "r" / "SumMe_split1.png"))

    monkeypatch.setattr(curves, "split_figure", full_disk)
    with torch_state_restored(), contextlib.redirect_stdout(io.StringIO()):
        assert train.main(board_argv(eccv16_dirs, tmp_path, "--epochs", "1")) == 0
    assert "warning: " in capsys.readouterr().err
    assert (tmp_path / "w" / "SumMe" / "split1.pt").is_file()


def test_a_stop_between_the_log_and_tensorboard_still_writes_the_logged_epoch(tmp_path):
    from types import SimpleNamespace

    from evaluation.protocols import PROTOCOLS
    from training.tensorboard import TensorBoardWriter

    pytest.importorskip("tensorboard")
    line = {"loss": 0.5, "kendall": 0.1, "spearman": 0.1, "f1": 40.0, "f1_max": 40.0, "f1_avg": 30.0,
            "selected": True, "learning_rate": 1e-3}
    run = SimpleNamespace(bundle=SimpleNamespace(name="SumMe", protocol=PROTOCOLS["SumMe"]), split=1,
                          config=Config(), outcome=SimpleNamespace(log=[]))
    board = TensorBoardWriter(tmp_path)
    board.start(run)
    run.outcome.log += [{**line, "epoch": 1}, {**line, "epoch": 2, "selected": False}]
    board.epoch_end(run, None, run.outcome.log[0])
    board.stop(run)                                     # Ctrl-C after epoch 2's log line, before its hook
    found, _ = scalars(tmp_path / "SumMe_split1")
    assert [step for step, _ in found["train/loss"]] == [1, 2]
    assert found["selection/kept_epoch"] == [(1, 1.0), (2, 1.0)]
