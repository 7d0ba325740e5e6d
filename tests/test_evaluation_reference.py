"""Parity with the original CSTA evaluation on the shipped fixtures, in-process and through the command."""

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from evaluation import evaluate_video, load_tvsum_annotations, mean_scores, select_keyshots

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
H5 = {"SumMe": FIXTURES / "eval_fixture_summe.h5", "TVSum": FIXTURES / "eval_fixture_tvsum.h5"}
REFERENCE = json.loads((FIXTURES / "eval_reference.json").read_text())
CASES = [
    (dataset, key, prediction)
    for dataset, videos in REFERENCE.items()
    for key, predictions in videos.items()
    for prediction in predictions
]
METRICS = ("f1_max", "f1_avg", "kendall", "spearman")


@pytest.fixture(scope="module")
def annotations():
    return load_tvsum_annotations()


def read_video(dataset, key):
    with h5py.File(H5[dataset], "r") as hdf:
        group = hdf[key]
        return {name: group[name][()] for name in ("change_points", "n_frames", "picks", "user_summary")}


def run_starts(summary):
    padded = np.r_[0, np.asarray(summary, dtype=np.int64)]
    return np.flatnonzero(np.diff(padded) == 1).tolist()


@pytest.mark.parametrize("dataset, key, prediction", CASES)
def test_video_matches_original(dataset, key, prediction, annotations):
    expected = REFERENCE[dataset][key][prediction]
    video = read_video(dataset, key)
    result = evaluate_video(
        dataset,
        expected["scores"],
        **video,
        annotations=annotations[key] if dataset == "TVSum" else None,
    )
    assert result.summary.size == expected["summary_len"]
    assert result.summary_frames == expected["summary_frames"]
    assert run_starts(result.summary) == expected["summary_selected_starts"]
    for metric in METRICS:
        assert getattr(result, metric) == pytest.approx(expected[metric], abs=1e-6), metric

    summary, selected = select_keyshots(
        expected["scores"], video["change_points"], video["n_frames"], video["picks"]
    )
    assert np.array_equal(summary, result.summary)
    cps = video["change_points"]
    rebuilt = np.zeros_like(summary)
    for s, e in cps[selected]:
        rebuilt[s : e + 1] = 1
    assert np.array_equal(rebuilt, summary)


def test_repeated_tvsum_evaluation_is_stable(annotations):
    # The training loop calls evaluate_video every epoch with the same arrays (cached path).
    key = "video_13"
    expected = REFERENCE["TVSum"][key]["gt_noisy"]
    video = read_video("TVSum", key)
    first = evaluate_video("TVSum", expected["scores"], **video, annotations=annotations[key])
    again = evaluate_video("TVSum", expected["scores"], **video, annotations=annotations[key])
    copy = evaluate_video("TVSum", expected["scores"], **video, annotations=annotations[key].copy())
    for metric in METRICS:
        assert getattr(first, metric) == getattr(again, metric) == getattr(copy, metric)


def run_command(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "evaluation", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("dataset", ["SumMe", "TVSum"])
@pytest.mark.parametrize("prediction", ["uniform", "gt_noisy"])
def test_command_writes_reference_values(dataset, prediction, tmp_path):
    videos = REFERENCE[dataset]
    scores_path = tmp_path / "scores.json"
    scores_path.write_text(json.dumps({key: v[prediction]["scores"] for key, v in videos.items()}))
    out = tmp_path / "out.json"
    # Run from an unrelated folder: the default annotations must be found via the package.
    proc = run_command("--dataset", dataset, "--h5", H5[dataset], "--scores", scores_path, "--out", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    written = json.loads(out.read_text())
    assert set(written) == {"videos", "mean"}
    assert set(written["videos"]) == set(videos)
    for key, record in written["videos"].items():
        expected = videos[key][prediction]
        assert record["summary_frames"] == expected["summary_frames"]
        for metric in METRICS:
            assert record[metric] == pytest.approx(expected[metric], abs=1e-6)
    for metric in METRICS:
        mean = np.mean([videos[key][prediction][metric] for key in videos])
        assert written["mean"][metric] == pytest.approx(mean, abs=1e-6)
    # The table names every video and the means.
    for key in videos:
        assert key in proc.stdout
    assert "mean" in proc.stdout
    # The output was written atomically: no temporary file left beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "scores.json"]


def test_mean_scores_averages_each_metric(annotations):
    results = []
    for key, predictions in REFERENCE["SumMe"].items():
        results.append(evaluate_video("SumMe", predictions["uniform"]["scores"], **read_video("SumMe", key)))
    means = mean_scores(results)
    for metric in METRICS:
        expected = np.mean([p["uniform"][metric] for p in REFERENCE["SumMe"].values()])
        assert means[metric] == pytest.approx(expected, abs=1e-9)
