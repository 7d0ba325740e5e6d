"""Cases where the original returns NaN or crashes, handled as documented in docs/evaluation.md."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from evaluation import UndefinedCorrelationWarning, VideoScores, evaluate_video, mean_scores

ROOT = Path(__file__).resolve().parent.parent


def long_shot_video():
    """Two 50-frame shots: the 15-frame budget fits neither, so the summary is empty."""
    n_frames = 100
    picks = np.arange(0, n_frames, 15)
    return dict(
        change_points=np.array([[0, 49], [50, 99]]),
        n_frames=n_frames,
        picks=picks,
        user_summary=np.stack([np.r_[np.ones(15), np.zeros(85)], np.r_[np.zeros(85), np.ones(15)]]),
    )


def tvsum_like_video(rng, n_frames=300, n_users=5):
    picks = np.arange(0, n_frames, 15)
    cps = np.array([[s, min(s + 29, n_frames - 1)] for s in range(0, n_frames, 30)])
    users = (rng.random((n_users, n_frames)) < 0.15).astype(np.float32)
    annotations = np.repeat(rng.integers(1, 6, (20, n_frames // 30 + 1)), 30, axis=1)[:, :n_frames].astype(float)
    return dict(change_points=cps, n_frames=n_frames, picks=picks, user_summary=users), annotations


def test_empty_summary_scores_zero_not_nan():
    video = long_shot_video()
    with pytest.warns(UndefinedCorrelationWarning):
        result = evaluate_video("SumMe", np.linspace(0, 1, 7), **video)
    assert result.summary_frames == 0
    assert (result.f1_max, result.f1_avg) == (0.0, 0.0)
    # SumMe correlates the (constant) summary: undefined, reported as 0.
    assert (result.kendall, result.spearman) == (0.0, 0.0)


def test_empty_summary_keeps_nan_when_asked():
    with pytest.warns(UndefinedCorrelationWarning):
        result = evaluate_video("SumMe", np.linspace(0, 1, 7), **long_shot_video(), undefined_correlation=float("nan"))
    assert np.isnan(result.kendall) and np.isnan(result.spearman)
    assert result.f1_max == 0.0  # F1 is defined as 0 regardless


def test_constant_tvsum_scores_give_zero_correlation_with_warning():
    video, annotations = tvsum_like_video(np.random.default_rng(0))
    with pytest.warns(UndefinedCorrelationWarning):
        result = evaluate_video("TVSum", np.full(20, 0.3), **video, annotations=annotations)
    assert (result.kendall, result.spearman) == (0.0, 0.0)
    assert result.summary_frames > 0  # the knapsack still picks shots (earliest first on ties)


def test_constant_annotator_counts_as_zero_in_the_mean():
    rng = np.random.default_rng(1)
    video, annotations = tvsum_like_video(rng)
    scores = rng.random(20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = evaluate_video("TVSum", scores, **video, annotations=annotations)
    flat = annotations.copy()
    flat[0] = 3.0
    with pytest.warns(UndefinedCorrelationWarning):
        partial = evaluate_video("TVSum", scores, **video, annotations=flat)
    # Annotator 0 now contributes 0 to the mean over 20 annotators.
    from evaluation import rank_correlations_many
    from evaluation.annotations import step_annotations

    taus, _ = rank_correlations_many(scores, step_annotations(annotations))
    assert partial.kendall == pytest.approx(full.kendall - taus[0] / 20, abs=1e-12)


def test_fewer_scores_than_picks_is_an_error():
    video = long_shot_video()
    with pytest.raises(ValueError, match="one score per pick"):
        evaluate_video("SumMe", np.linspace(0, 1, 6), **video)


def test_tvsum_needs_annotations_of_matching_length():
    video, annotations = tvsum_like_video(np.random.default_rng(2))
    with pytest.raises(ValueError, match="annotations"):
        evaluate_video("TVSum", np.random.default_rng(3).random(20), **video)
    with pytest.raises(ValueError, match="annotations: 19 steps"):
        evaluate_video("TVSum", np.random.default_rng(3).random(20), **video, annotations=annotations[:, :280])


def test_dataset_names():
    video = long_shot_video()
    with pytest.warns(UndefinedCorrelationWarning):
        assert evaluate_video("summe", np.linspace(0, 1, 7), **video).f1_max == 0.0
    with pytest.raises(ValueError, match="unknown dataset"):
        evaluate_video("YouTube", np.linspace(0, 1, 7), **video)


def test_mean_scores_needs_videos_and_averages():
    with pytest.raises(ValueError):
        mean_scores([])
    a = VideoScores(10.0, 5.0, 0.1, 0.2, np.zeros(3))
    b = VideoScores(20.0, 15.0, 0.3, 0.4, np.ones(3))
    assert mean_scores([a, b]) == pytest.approx({"f1_max": 15.0, "f1_avg": 10.0, "kendall": 0.2, "spearman": 0.3})
    assert b.summary_frames == 3
    assert b.as_dict() == {"f1_max": 20.0, "f1_avg": 15.0, "kendall": 0.3, "spearman": 0.4, "summary_frames": 3}


def test_command_reports_empty_summary_without_nan(tmp_path):
    import json

    import h5py

    video = long_shot_video()
    h5 = tmp_path / "one.h5"
    with h5py.File(h5, "w") as hdf:
        group = hdf.create_group("video_1")
        for name, value in video.items():
            group[name] = value
    scores = tmp_path / "scores.json"
    scores.write_text(json.dumps({"video_1": np.linspace(0, 1, 7).tolist()}))
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, "-m", "evaluation", "--dataset", "SumMe", "--h5", str(h5), "--scores", str(scores), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "empty summary" in proc.stderr
    record = json.loads(out.read_text())["videos"]["video_1"]
    assert record == {"f1_max": 0.0, "f1_avg": 0.0, "kendall": 0.0, "spearman": 0.0, "summary_frames": 0}


def test_evaluation_package_does_not_import_torch():
    modules = ["knapsack", "summary", "metrics", "annotations", "protocol", "__main__", "human_agreement"]
    code = (
        "import sys, importlib\n"
        + "".join(f"importlib.import_module('evaluation.{m}')\n" for m in modules)
        + "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
