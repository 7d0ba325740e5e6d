"""train.py and training/: checkpoints, records, logs, the selection rule, resuming, interrupted writes,
determinism, parallel splits, repeated runs and bad inputs, on tiny generated data on the CPU."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import random
import statistics
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import storage.checkpoints
import train
from config import SELECTION_RULES as CONFIG_SELECTION_RULES
from config import Config
from model import build_model
from storage.checkpoints import checkpoint_paths, read_record, save_checkpoint, split_is_finished, training_fingerprint
from training import SELECTION_RULES, EpochMetrics, load_bundle, train_split

from tests.conftest import torch_state_restored

pytestmark = [pytest.mark.usefixtures("isolated_torch_state"),
              pytest.mark.filterwarnings("ignore::evaluation.UndefinedCorrelationWarning")]

DATASETS = ("SumMe", "TVSum")
CPU = torch.device("cpu")
#: What a log line and a record's metrics hold under the eccv16 protocol.
METRIC_FIELDS = ("epoch", "loss", "kendall", "spearman", "f1", "f1_max", "f1_avg")


def state_digest(state: dict[str, torch.Tensor]) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def epoch_metrics(line: dict) -> EpochMetrics:
    return EpochMetrics.from_dict({name: line[name] for name in METRIC_FIELDS})


def kept_epoch(rule, history: list[EpochMetrics]) -> tuple[EpochMetrics | None, list[bool]]:
    """The epoch a rule keeps from a sequence, as the training loop applies it, and each epoch's decision."""
    best, decisions = None, []
    for metrics in history:
        decisions.append(rule(best, metrics))
        if decisions[-1]:
            best = metrics
    return best, decisions


def metrics(epoch: int, kendall: float = 0.0, spearman: float = 0.0, f1: float = 0.0) -> EpochMetrics:
    return EpochMetrics(epoch=epoch, loss=1.0 / epoch, kendall=kendall, spearman=spearman, f1=f1,
                        extra={"f1_max": f1, "f1_avg": f1})


def tiny_run_argv(dirs, root: Path, *extra: str) -> list[str]:
    return [*dirs.flags(), "--weights-dir", str(root / "weights"), "--results-dir", str(root / "results"),
            "--no-pretrained", "--device", "cpu", "--quiet", "--datasets", "SumMe", "--splits", "1", *extra]


# ---------------------------------------------------------------------------------------------
# end to end: train.py on one split of both datasets (the session's finished_run)


@pytest.mark.parametrize("dataset", DATASETS)
def test_checkpoint_is_a_plain_state_dict_that_loads_strictly_into_the_model(finished_run, dataset):
    weights_path, _ = checkpoint_paths(finished_run.weights_dir, dataset, 1)
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    assert type(state) is dict
    assert all(isinstance(tensor, torch.Tensor) for tensor in state.values())
    model = build_model(Config(pretrained=False), pretrained=False)
    assert set(state) == set(model.state_dict())
    model.load_state_dict(state, strict=True)


@pytest.mark.parametrize("dataset", DATASETS)
def test_checkpoint_record_holds_config_selected_epoch_metrics_seed_and_versions(finished_run, dataset):
    weights_path, record_path = checkpoint_paths(finished_run.weights_dir, dataset, 1)
    record = json.loads(record_path.read_text())
    assert record["complete"] is True
    assert record["weights"] == weights_path.name
    assert (record["dataset"], record["split"]) == (dataset, 1)
    config = Config.from_dict(record["config"])
    assert (config.epochs, config.pretrained, config.splits) == (2, False, (1,))
    assert config.weights_dir == str(finished_run.weights_dir)
    assert record["seed"] == config.seed == Config().seed
    assert record["fingerprint"] == json.loads(json.dumps(training_fingerprint(config)))
    assert record["selected_epoch"] in (1, 2)
    assert record["metrics"]["epoch"] == record["selected_epoch"]
    assert set(record["metrics"]) == set(METRIC_FIELDS)
    assert all(math.isfinite(record["metrics"][key]) for key in ("loss", "kendall", "spearman", "f1"))
    assert record["metrics"]["f1"] == record["metrics"]["f1_max" if dataset == "SumMe" else "f1_avg"]
    assert record["versions"]["torch"] == torch.__version__
    assert record["versions"]["numpy"] == np.__version__
    assert {"python", "torchvision", "scipy", "h5py"} <= set(record["versions"])


@pytest.mark.parametrize("dataset", DATASETS)
def test_per_epoch_log_has_one_json_line_per_epoch(finished_run, dataset):
    log_path = finished_run.results_dir / f"{dataset}_split1.jsonl"
    record = json.loads(checkpoint_paths(finished_run.weights_dir, dataset, 1)[1].read_text())
    assert record["log"] == str(log_path)
    lines = read_log(log_path)
    assert [line["epoch"] for line in lines] == [1, 2]
    for line in lines:
        assert set(line) == {*METRIC_FIELDS, "selected", "learning_rate", "seconds", "order"}
        assert isinstance(line["selected"], bool)
        assert line["loss"] > 0 and math.isfinite(line["loss"])


def test_training_summary_lists_the_selected_metrics_of_every_split(finished_run):
    summary = json.loads((finished_run.results_dir / "train_summary.json").read_text())
    for dataset in DATASETS:
        record = json.loads(checkpoint_paths(finished_run.weights_dir, dataset, 1)[1].read_text())
        assert summary["splits"][dataset] == {"1": record["metrics"]}
        assert summary["final"][dataset]["kendall"] == record["metrics"]["kendall"]
        assert f"{dataset} split 1: epoch {record['selected_epoch']} kept" in finished_run.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_checkpoint_and_record_get_the_permissions_of_an_ordinary_new_file(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    weights_path, record_path = save_checkpoint(tmp_path, "SumMe", 1, {"w": torch.zeros(2)}, {"seed": 1})
    for path in (weights_path, record_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


# ---------------------------------------------------------------------------------------------
# the selection rule


def test_selection_rules_cover_the_configs_choices():
    assert set(SELECTION_RULES) == set(CONFIG_SELECTION_RULES)


def test_originals_rule_keeps_an_epoch_only_when_tau_and_rho_both_beat_the_best():
    history = [metrics(1, kendall=0.10, spearman=0.20),
               metrics(2, kendall=0.30, spearman=0.15),     # tau up, rho down
               metrics(3, kendall=0.05, spearman=0.50),     # rho up, tau down
               metrics(4, kendall=0.10, spearman=0.25),     # tau only ties
               metrics(5, kendall=0.20, spearman=0.30, f1=0.0),
               metrics(6, kendall=0.15, spearman=0.10, f1=90.0)]
    best, decisions = kept_epoch(SELECTION_RULES["kendall_and_spearman"], history)
    assert decisions == [True, False, False, False, True, False]
    assert best.epoch == 5


def test_originals_rule_starts_from_minus_one():
    rule = SELECTION_RULES["kendall_and_spearman"]
    assert not rule(None, metrics(1, kendall=-1.0, spearman=0.5))
    assert not rule(None, metrics(1, kendall=0.5, spearman=-1.0))
    assert rule(None, metrics(1, kendall=-0.9, spearman=-0.9))
    best, decisions = kept_epoch(rule, [metrics(1, -1.0, -1.0), metrics(2, -0.5, -0.4), metrics(3, -0.6, 0.9)])
    assert decisions == [False, True, False]
    assert best.epoch == 2


def test_originals_rule_never_keeps_undefined_correlations():
    rule = SELECTION_RULES["kendall_and_spearman"]
    assert not rule(None, metrics(1, kendall=float("nan"), spearman=0.5))
    assert not rule(metrics(1, 0.1, 0.1), metrics(2, kendall=0.5, spearman=float("nan")))


def test_f1_rule_keeps_the_first_epoch_with_the_highest_f1_whatever_the_correlations():
    history = [metrics(1, kendall=0.5, spearman=0.5, f1=30.0),
               metrics(2, kendall=-0.5, spearman=-0.5, f1=40.0),
               metrics(3, kendall=0.9, spearman=0.9, f1=40.0),
               metrics(4, kendall=0.9, spearman=0.9, f1=35.0)]
    best, decisions = kept_epoch(SELECTION_RULES["f1"], history)
    assert decisions == [True, True, False, False]
    assert best.epoch == 2


def test_last_rule_keeps_the_last_epoch():
    history = [metrics(1, 0.9, 0.9, 90.0), metrics(2, -0.5, -0.5, 1.0), metrics(3, 0.1, 0.1, 5.0)]
    best, decisions = kept_epoch(SELECTION_RULES["last"], history)
    assert decisions == [True, True, True]
    assert best.epoch == 3


@pytest.mark.parametrize("dataset", DATASETS)
def test_kept_epoch_is_the_one_the_selection_rule_picks_from_the_log(finished_run, dataset):
    record = json.loads(checkpoint_paths(finished_run.weights_dir, dataset, 1)[1].read_text())
    lines = read_log(finished_run.results_dir / f"{dataset}_split1.jsonl")
    best, decisions = kept_epoch(SELECTION_RULES[record["config"]["selection"]], [epoch_metrics(l) for l in lines])
    assert [line["selected"] for line in lines] == decisions
    assert record["selected_by"] == record["config"]["selection"]
    assert record["selected_epoch"] == best.epoch
    assert record["metrics"] == best.as_dict()


def test_split_where_no_epoch_passes_the_rule_keeps_the_last_epoch(eccv16_dirs, tmp_path, monkeypatch):
    monkeypatch.setitem(SELECTION_RULES, "f1", lambda best, current: False)
    assert train.main(tiny_run_argv(eccv16_dirs, tmp_path, "--selection", "f1", "--epochs", "2")) == 0
    record = json.loads(checkpoint_paths(tmp_path / "weights", "SumMe", 1)[1].read_text())
    lines = read_log(tmp_path / "results" / "SumMe_split1.jsonl")
    assert [line["selected"] for line in lines] == [False, False]
    assert record["selected_by"] == "last epoch (no epoch passed the rule)"
    assert record["selected_epoch"] == 2
    assert record["metrics"] == epoch_metrics(lines[-1]).as_dict()


# ---------------------------------------------------------------------------------------------
# resuming


def test_resume_skips_finished_splits_and_trains_the_unfinished_ones(finished_run, tmp_path, capsys):
    weights, results = finished_run.copy_to(tmp_path)
    finished = [*checkpoint_paths(weights, "SumMe", 1), results / "SumMe_split1.jsonl"]
    before = {path: (path.stat().st_mtime_ns, file_digest(path)) for path in finished}
    old_record = json.loads(finished[1].read_text())

    status = train.main(finished_run.argv(weights, results) + ["--datasets", "SumMe", "--splits", "1", "2",
                                                                "--resume"])
    assert status == 0
    out = capsys.readouterr().out
    assert f"SumMe split 1: finished earlier (epoch {old_record['selected_epoch']}), skipped" in out
    assert "SumMe split 2: epoch" in out
    assert {path: (path.stat().st_mtime_ns, file_digest(path)) for path in finished} == before
    new_record = read_record(checkpoint_paths(weights, "SumMe", 2)[1])
    assert new_record["complete"] is True and new_record["split"] == 2
    assert split_is_finished(weights, "SumMe", 2, old_record["fingerprint"])
    summary = json.loads((results / "train_summary.json").read_text())
    assert summary["splits"]["SumMe"]["1"] == old_record["metrics"]
    assert summary["splits"]["SumMe"]["2"] == new_record["metrics"]


def test_resume_retrains_a_split_trained_with_other_options(finished_run, tmp_path, capsys):
    weights, results = finished_run.copy_to(tmp_path)
    weights_path, record_path = checkpoint_paths(weights, "SumMe", 1)
    old = weights_path.stat()

    status = train.main(finished_run.argv(weights, results) + ["--datasets", "SumMe", "--epochs", "1", "--resume"])
    assert status == 0
    assert "skipped" not in capsys.readouterr().out
    new = weights_path.stat()
    assert (new.st_ino, new.st_mtime_ns) != (old.st_ino, old.st_mtime_ns)
    record = read_record(record_path)
    assert record["config"]["epochs"] == 1 and record["complete"] is True
    assert len(read_log(results / "SumMe_split1.jsonl")) == 1


@pytest.mark.parametrize("changes", [{"seed": 1}, {"epochs": 3}, {"selection": "f1"}, {"learning_rate": 1e-4},
                                     {"batch_size": "0.5"}, {"deterministic": True}, {"Softmax_axis": "T"},
                                     {"pretrained": True}],
                         ids=lambda changes: next(iter(changes)))
def test_split_trained_with_a_different_training_option_is_not_finished(finished_run, changes):
    record = read_record(checkpoint_paths(finished_run.weights_dir, "SumMe", 1)[1])
    config = Config.from_dict(record["config"])
    assert split_is_finished(finished_run.weights_dir, "SumMe", 1, training_fingerprint(config))
    changed = training_fingerprint(dataclasses.replace(config, **changes))
    assert not split_is_finished(finished_run.weights_dir, "SumMe", 1, changed)


@pytest.mark.parametrize("changes", [{"jobs": 2}, {"device": "auto"}, {"splits": (1, 2, 3)},
                                     {"datasets": ("SumMe",)}, {"results_dir": "elsewhere"}],
                         ids=lambda changes: next(iter(changes)))
def test_options_that_do_not_change_the_weights_keep_a_split_finished(finished_run, changes):
    record = read_record(checkpoint_paths(finished_run.weights_dir, "SumMe", 1)[1])
    config = dataclasses.replace(Config.from_dict(record["config"]), **changes)
    assert split_is_finished(finished_run.weights_dir, "SumMe", 1, training_fingerprint(config))


# ---------------------------------------------------------------------------------------------
# interrupted writes


def test_interrupted_checkpoint_write_keeps_the_previous_weights(finished_run, tmp_path, monkeypatch):
    weights, results = finished_run.copy_to(tmp_path)
    weights_path, record_path = checkpoint_paths(weights, "SumMe", 1)
    old_weights, old_record = weights_path.read_bytes(), record_path.read_text()

    def interrupted_save(obj, file, *args, **kwargs):
        file.write(b"the first bytes of a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(storage.checkpoints.torch, "save", interrupted_save)
    argv = finished_run.argv(weights, results) + ["--datasets", "SumMe", "--epochs", "1"]
    assert train.main(argv) == 130                   # Ctrl-C: one line, exit 130
    monkeypatch.undo()

    assert weights_path.read_bytes() == old_weights
    assert [path.name for path in weights_path.parent.iterdir() if path.name.endswith(".tmp")] == []
    if record_path.exists():
        assert record_path.read_text() == old_record
    interrupted_config = train.parse_arguments(argv)[0]
    assert not split_is_finished(weights, "SumMe", 1, training_fingerprint(interrupted_config))
    build_model(Config(pretrained=False), pretrained=False).load_state_dict(
        torch.load(weights_path, map_location="cpu", weights_only=True), strict=True)


def test_interrupted_record_write_leaves_the_previous_checkpoint_and_record(tmp_path, monkeypatch):
    fingerprint = {"seed": 1}
    save_checkpoint(tmp_path, "TVSum", 2, {"w": torch.zeros(3)}, {"fingerprint": fingerprint})
    weights_path, record_path = checkpoint_paths(tmp_path, "TVSum", 2)
    before = weights_path.read_bytes(), record_path.read_bytes()
    assert split_is_finished(tmp_path, "TVSum", 2, fingerprint)

    def interrupted_dumps(data, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(storage.checkpoints.json, "dumps", interrupted_dumps)
    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint(tmp_path, "TVSum", 2, {"w": torch.ones(3)}, {"fingerprint": fingerprint})
    monkeypatch.undo()

    assert (weights_path.read_bytes(), record_path.read_bytes()) == before
    assert split_is_finished(tmp_path, "TVSum", 2, fingerprint)
    assert sorted(path.name for path in weights_path.parent.iterdir()) == ["split2.json", "split2.pt"]
    assert torch.equal(torch.load(weights_path, weights_only=True)["w"], torch.zeros(3))


# ---------------------------------------------------------------------------------------------
# determinism, parallel splits, repeated runs


@pytest.fixture(scope="module")
def seeded_outcomes(eccv16_dirs):
    """SumMe split 1 trained deterministically: twice with seed 11 (global RNGs disturbed between), once with 12."""
    bundle = load_bundle(eccv16_dirs.spec("SumMe"))
    config = Config(pretrained=False, epochs=2, deterministic=True, device="cpu", seed=11)
    outcomes = {}
    with torch_state_restored():
        outcomes["first"] = train_split(config, bundle, 1, device=CPU, progress=False)
        torch.rand(7), np.random.rand(7), random.random()
        outcomes["again"] = train_split(config, bundle, 1, device=CPU, progress=False)
        outcomes["other seed"] = train_split(dataclasses.replace(config, seed=12), bundle, 1, device=CPU,
                                             progress=False)
    return outcomes


@pytest.mark.slow
def test_same_seed_gives_bit_identical_weights_and_metrics_on_the_cpu(seeded_outcomes):
    first, again = seeded_outcomes["first"], seeded_outcomes["again"]
    assert state_digest(first.best_state) == state_digest(again.best_state)
    assert first.history == again.history
    assert first.best == again.best


@pytest.mark.slow
def test_different_seed_gives_different_weights(seeded_outcomes):
    first, other = seeded_outcomes["first"], seeded_outcomes["other seed"]
    assert state_digest(first.best_state) != state_digest(other.best_state)
    assert [m.loss for m in first.history] != [m.loss for m in other.history]


@pytest.mark.slow
def test_parallel_jobs_give_the_same_checkpoints_and_metrics_as_one_job(eccv16_dirs, tmp_path):
    # --jobs N gives each worker cpu_count // N threads; on the CPU the float reductions depend on the
    # thread count, so the one-job run uses the same count.
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // 2))
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    assert train.main(tiny_run_argv(eccv16_dirs, serial, "--epochs", "1", "--splits", "1", "2")) == 0
    assert train.main(tiny_run_argv(eccv16_dirs, parallel, "--epochs", "1", "--splits", "1", "2",
                                    "--jobs", "2")) == 0
    for split in (1, 2):
        (serial_weights, serial_record), (parallel_weights, parallel_record) = (
            checkpoint_paths(root / "weights", "SumMe", split) for root in (serial, parallel))
        serial_state = torch.load(serial_weights, weights_only=True)
        parallel_state = torch.load(parallel_weights, weights_only=True)
        assert list(serial_state) == list(parallel_state)
        assert all(torch.equal(serial_state[name], parallel_state[name]) for name in serial_state)
        assert read_record(serial_record)["metrics"] == read_record(parallel_record)["metrics"]
        assert read_record(parallel_record)["config"]["jobs"] == 2


@pytest.mark.slow
def test_runs_write_one_folder_per_seed_and_a_mean_and_std_summary(eccv16_dirs, tmp_path):
    assert train.main(tiny_run_argv(eccv16_dirs, tmp_path, "--epochs", "1", "--runs", "2", "--seed", "7")) == 0
    finals, digests = [], []
    for folder, seed in (("run1_seed7", 7), ("run2_seed8", 8)):
        weights_path, record_path = checkpoint_paths(tmp_path / "weights" / folder, "SumMe", 1)
        record = read_record(record_path)
        assert record["seed"] == seed and record["config"]["seed"] == seed
        digests.append(file_digest(weights_path))
        assert (tmp_path / "results" / folder / "SumMe_split1.jsonl").is_file()
        finals.append(json.loads((tmp_path / "results" / folder / "train_summary.json").read_text())["final"])
    assert digests[0] != digests[1]
    summary = json.loads((tmp_path / "results" / "runs_summary.json").read_text())
    assert summary["seeds"] == [7, 8]
    assert summary["per_run"] == finals
    for key in ("kendall", "spearman", "f1"):
        values = [final["SumMe"][key] for final in finals]
        assert summary["mean_std"]["SumMe"][key] == pytest.approx([statistics.mean(values), statistics.stdev(values)])


# ---------------------------------------------------------------------------------------------
# bad inputs


def test_missing_h5_file_is_named_with_where_to_get_it(eccv16_dirs, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = ["--data-dir", str(empty), "--splits-dir", str(eccv16_dirs.splits_dir),
            "--weights-dir", str(tmp_path / "weights"), "--results-dir", str(tmp_path / "results"),
            "--no-pretrained", "--epochs", "1", "--splits", "1", "--quiet"]
    assert train.main(argv) == 2
    err = capsys.readouterr().err
    assert str(empty / "eccv16_dataset_summe_google_pool5.h5") in err
    assert "PGL-SUM" in err
    assert not (tmp_path / "weights").exists()


def test_missing_splits_file_is_named(eccv16_dirs, tmp_path, capsys):
    argv = ["--data-dir", str(eccv16_dirs.data_dir), "--splits-dir", str(tmp_path),
            "--weights-dir", str(tmp_path / "weights"), "--results-dir", str(tmp_path / "results"),
            "--no-pretrained", "--epochs", "1", "--datasets", "TVSum", "--quiet"]
    assert train.main(argv) == 2
    assert str(tmp_path / "TVSum_splits.txt") in capsys.readouterr().err


@pytest.mark.parametrize("flag,value,named", [("--epochs", "0", "epochs"), ("--selection", "best", "selection"),
                                              ("--jobs", "0", "jobs"), ("--runs", "zero", "runs"),
                                              ("--splits", "0", "splits"), ("--batch-size", "0", "batch_size"),
                                              ("--learning-rate", "-1e-3", "learning_rate"),
                                              ("--datasets", "SumMe2", "datasets"),
                                              ("--device", "gpu", "device")])
def test_invalid_option_value_exits_naming_the_option(flag, value, named, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main([f"{flag}={value}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"error: {named}:" in err
