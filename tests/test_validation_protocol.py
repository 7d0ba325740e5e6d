"""--select-on validation: seeded validation videos carved from each split's training videos, never trained on."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import dataset as eccv16
import train
from training.data import carve_validation

from tests.conftest import torch_state_restored

pytestmark = [pytest.mark.usefixtures("isolated_torch_state"),
              pytest.mark.filterwarnings("ignore::evaluation.UndefinedCorrelationWarning")]


@pytest.mark.parametrize("dataset, sizes", [("SumMe", (16, 4)), ("TVSum", (32, 8))])
def test_csta_splits_are_carved_into_the_issued_sizes(dataset, sizes):
    for split in eccv16.load_splits(dataset):
        carved = carve_validation(split, 0.2, 123456)
        assert (len(carved.train_keys), len(carved.val_keys)) == sizes
        assert set(carved.train_keys) | set(carved.val_keys) == set(split.train_keys)
        assert not set(carved.val_keys) & (set(carved.train_keys) | set(carved.test_keys))
        assert carved.test_keys == split.test_keys and carved.selection_keys == carved.val_keys


def test_the_carve_depends_on_the_seed_and_the_split_alone():
    splits = eccv16.load_splits("TVSum")
    first = [carve_validation(s, 0.2, 7).val_keys for s in splits]
    torch.manual_seed(99)
    np.random.seed(5)
    numpy_state, torch_state = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    with torch_state_restored(threads=1):
        again = [carve_validation(s, 0.2, 7).val_keys for s in splits]
    assert again == first
    assert np.array_equal(np.random.get_state()[1], numpy_state) and torch.equal(torch.get_rng_state(), torch_state)
    assert len(set(first)) == len(first)                             # each split its own videos
    assert [carve_validation(s, 0.2, 8).val_keys for s in splits] != first


def test_a_validation_run_never_trains_on_its_validation_videos(eccv16_dirs, tmp_path, capsys):
    argv = [*eccv16_dirs.flags(), "--weights-dir", str(tmp_path / "w"), "--results-dir", str(tmp_path / "r"),
            "--no-pretrained", "--device", "cpu", "--quiet", "--datasets", "SumMe", "--splits", "1", "--epochs", "2",
            "--select-on", "validation", "--validation-fraction", "0.5"]
    assert train.main(argv) == 0
    assert "(selected on validation videos)" in capsys.readouterr().out
    record = json.loads((tmp_path / "w" / "SumMe" / "split1.json").read_text())
    assert record["select_on"] == "validation"
    assert record["fingerprint"]["select_on"] == "validation"
    held_out = set(record["selection_videos"])
    assert len(held_out) == 2 and set(record["test_metrics"]) >= {"kendall", "spearman", "f1"}
    log = [json.loads(line) for line in (tmp_path / "r" / "SumMe_split1.jsonl").read_text().splitlines()]
    trained = {key for line in log for key in line["order"]}
    assert trained and not trained & held_out
    split = eccv16.read_splits_file(eccv16_dirs.splits_path("SumMe"), "SumMe")[0]
    assert held_out == set(carve_validation(split, 0.5, record["seed"]).val_keys)
    assert not held_out & set(split.test_keys)


def test_the_fraction_is_validated():
    from config import Config, ConfigError

    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(ConfigError, match="validation_fraction: must be in"):
            Config(validation_fraction=bad)


@pytest.mark.slow
def test_runs_report_the_interval_of_the_mean_and_each_splits_spread(eccv16_dirs, tmp_path, capsys):
    from scipy import stats

    argv = [*eccv16_dirs.flags(), "--weights-dir", str(tmp_path / "w"), "--results-dir", str(tmp_path / "r"),
            "--no-pretrained", "--device", "cpu", "--quiet", "--datasets", "SumMe", "--splits", "1", "2",
            "--epochs", "1", "--runs", "3"]
    assert train.main(argv) == 0
    assert "95% interval of the mean, Student t" in capsys.readouterr().out
    summary = json.loads((tmp_path / "r" / "runs_summary.json").read_text())
    for key in ("kendall", "f1"):
        values = [run["SumMe"][key] for run in summary["per_run"]]
        half = stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / np.sqrt(len(values))
        assert summary["mean_interval"]["SumMe"][key]["ci95"] == pytest.approx([np.mean(values) - half,
                                                                                np.mean(values) + half])
    assert set(summary["per_split_over_runs"]["SumMe"]) == {"1", "2"}
    assert summary["per_split_over_runs"]["SumMe"]["1"]["f1"]["n"] == 3
    one_run = json.loads((tmp_path / "r" / "run1_seed123456" / "train_summary.json").read_text())
    spread = one_run["split_spread"]["SumMe"]["kendall"]
    split_values = [one_run["splits"]["SumMe"][k]["kendall"] for k in ("1", "2")]
    assert spread["min"] == min(split_values) and spread["max"] == max(split_values)


def test_the_runs_figure_draws_the_interval_the_random_level_and_the_human_agreement(tmp_path):
    from evaluation.protocols import PROTOCOLS
    from training.curves import runs_figure

    rng = np.random.default_rng(0)
    per_run = [{k: {"kendall": 0.2 + 0.05 * rng.random(), "spearman": 0.25, "f1": 55.0} for k in (1, 2)}
               for _ in range(3)]
    target = tmp_path / "TVSum_runs.png"
    runs_figure(target, "TVSum", PROTOCOLS["TVSum"], per_run, [1, 2, 3], random={"kendall": 0.0, "f1": 34.0},
                human={"kendall": 0.177, "spearman": 0.204})
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
