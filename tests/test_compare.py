"""python -m evaluation.compare: two inference.py results paired video by video."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from evaluation.compare import CompareError, compare, main, paired_statistics

METRICS = ("kendall", "spearman", "f1_max", "f1_avg")


def inference_result(path: Path, seed: int, splits=(1, 2), videos_per_split: int = 5, shift: float = 0.0) -> Path:
    """A file in inference.py's layout with seeded per-video values."""
    rng = np.random.default_rng(seed)
    splits_out = {}
    for split in splits:
        videos = {f"video_{split * 10 + i}": {**{m: float(rng.random() + shift) for m in METRICS},
                                              "summary_frames": 10}
                  for i in range(videos_per_split)}
        splits_out[str(split)] = {"weights": "w.pt", "videos": videos, "mean": {}}
    data = {"config": {}, "datasets": {"SumMe": {"protocol": "SumMe", "splits": splits_out, "final": {},
                                                 "random_scores": {}}}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def values(path: Path, metric: str) -> list[float]:
    data = json.loads(path.read_text())["datasets"]["SumMe"]["splits"]
    pairs = sorted(((split, key), v[metric]) for split, entry in data.items() for key, v in entry["videos"].items())
    return [value for _, value in pairs]


def test_the_p_value_is_scipys_and_the_interval_holds_the_difference(tmp_path):
    a, b = inference_result(tmp_path / "a.json", 1), inference_result(tmp_path / "b.json", 2, shift=0.3)
    result = compare(a, b)
    for metric in METRICS:
        s = result["datasets"]["SumMe"][metric]
        va, vb = np.array(values(a, metric)), np.array(values(b, metric))
        assert s["n"] == 10
        assert s["p_wilcoxon"] == stats.wilcoxon(vb, va).pvalue
        assert s["difference"] == pytest.approx(vb.mean() - va.mean())
        assert s["mean_b"] - s["mean_a"] == pytest.approx(s["difference"])
        assert s["ci95"][0] <= s["difference"] <= s["ci95"][1]


def test_the_bootstrap_is_seeded():
    rng = np.random.default_rng(0)
    a, b = rng.random(30), rng.random(30) + 0.1
    assert paired_statistics(a, b, seed=3) == paired_statistics(a, b, seed=3)
    assert paired_statistics(a, b, seed=3)["ci95"] != paired_statistics(a, b, seed=4)["ci95"]


def test_identical_results_have_no_difference_and_no_p_value(tmp_path):
    a = inference_result(tmp_path / "a.json", 1)
    s = compare(a, a)["datasets"]["SumMe"]["kendall"]
    assert s["difference"] == 0 and s["ci95"] == [0.0, 0.0]
    assert s["p_wilcoxon"] in (None, 1.0)


def test_results_over_other_videos_are_refused(tmp_path):
    a = inference_result(tmp_path / "a.json", 1)
    b = inference_result(tmp_path / "b.json", 2, splits=(1,))
    with pytest.raises(CompareError, match="do not cover the same videos .5 in one only, e.g. split 2 video"):
        compare(a, b)


def test_runs_folders_average_each_video_over_the_runs(tmp_path):
    run1 = inference_result(tmp_path / "A" / "run1_seed1" / "inference.json", 1)
    run2 = inference_result(tmp_path / "A" / "run2_seed2" / "inference.json", 2)
    b = inference_result(tmp_path / "b.json", 3)
    s = compare(tmp_path / "A", b)["datasets"]["SumMe"]["kendall"]
    assert s["mean_a"] == pytest.approx((np.mean(values(run1, "kendall")) + np.mean(values(run2, "kendall"))) / 2)


def test_the_command_writes_the_comparison_and_refuses_in_one_line(tmp_path, capsys):
    a, b = inference_result(tmp_path / "a.json", 1), inference_result(tmp_path / "b.json", 2)
    assert main([str(a), str(b), "--out", str(tmp_path / "c.json")]) == 0
    written = json.loads((tmp_path / "c.json").read_text())
    assert set(written["datasets"]["SumMe"]) == set(METRICS)
    assert "p (Wilcoxon)" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text("[" * 100_000)
    assert main([str(a), str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {tmp_path / 'bad.json'}: not JSON")
    assert main([str(a), str(tmp_path / "missing.json")]) == 2


def test_performance_over_random_divides_each_splits_f1_by_the_random_one():
    from evaluation.over_random import performance_over_random

    result = performance_over_random({"1": 50.0, "2": 40.0}, {"1": 40.0, "2": 40.0})
    assert result["per_split"] == {"1": 125.0, "2": 100.0}
    assert result["mean"] == 112.5
    assert performance_over_random([30.0], [0.0]) == {"per_split": {1: None}, "mean": None}
    with pytest.raises(ValueError, match="same splits"):
        performance_over_random({"1": 1.0}, {"2": 1.0})


def test_inference_reports_performance_over_random_per_split(finished_run, tmp_path, capsys):
    import inference

    out = tmp_path / "inference.json"
    argv = [*finished_run.dirs.flags(), "--weights-dir", str(finished_run.weights_dir), "--datasets", "SumMe",
            "--splits", "1", "--device", "cpu", "--out", str(out)]
    assert inference.main(argv) == 0
    assert "PoR (%)" in capsys.readouterr().out
    result = json.loads(out.read_text())["datasets"]["SumMe"]
    f1, random_f1 = result["splits"]["1"]["mean"]["f1"], result["random_scores_by_split"]["1"]["f1"]
    assert result["performance_over_random"]["per_split"]["1"] == pytest.approx(100 * f1 / random_f1)
    assert result["performance_over_random"]["mean"] == pytest.approx(100 * f1 / random_f1)
    assert result["splits"]["1"]["selected_on"] == "test"
