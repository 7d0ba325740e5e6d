"""The Mr.HiSum protocol against the reference values of its own repository's code (and SummDiff's tau/rho),
its edge cases, and Mr.HiSum-schema data through train.py and inference.py."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

import inference
import train
from dataset import DatasetError, load_h5
from demo.mrhisum import make_mrhisum_like
from evaluation.__main__ import main as evaluation_main
from evaluation.metrics import UndefinedCorrelationWarning
from evaluation.mrhisum import clip_means, evaluate_mrhisum_video, mrhisum_summary, summary_f1, top_clips

FIXTURES = Path(__file__).resolve().parent / "fixtures"
H5 = FIXTURES / "mrhisum_fixture.h5"
SPLIT = FIXTURES / "mrhisum_fixture_split.json"
REFERENCE = json.loads((FIXTURES / "mrhisum_reference.json").read_text())
METRICS = ("f1", "map50", "map15", "kendall", "spearman")
PREDICTIONS = ("uniform", "gt_noisy")


def video(key: str) -> dict:
    """The fields the protocol reads, as the project's reader gives them from the real file's layout."""
    record = load_h5(H5, keys=[key], schema="mrhisum", feature_dim=None)[key]
    return {"gtscore": record.gtscore, "gt_summary": record.user_summary[0], "change_points": record.change_points}


def test_the_fixture_has_the_real_files_last_rows():
    """10 of the 12 videos end their last row at n - 1 as the real mr_hisum.h5 does, 2 at n."""
    with h5py.File(H5) as h5:
        ends = [int(h5[key]["change_points"][-1, 1]) - h5[key]["features"].shape[0] for key in h5]
    assert sorted(ends) == [-1] * 10 + [0] * 2


@pytest.mark.parametrize("key", sorted(REFERENCE["videos"]))
def test_shots_cover_every_step_under_either_last_row(key):
    """SummDiff's rule: the last shot's length gains 1 when its row ends at n - 1, so the shots sum to n."""
    record = load_h5(H5, keys=[key], schema="mrhisum", feature_dim=None)[key]
    assert int(record.n_frame_per_seg.sum()) == record.n_steps == REFERENCE["videos"][key]["uniform"]["summary_array_len"]
    assert record.change_points[0, 0] == 0 and record.change_points[-1, 1] == record.n_steps - 1
    assert np.array_equal(record.change_points[1:, 0], record.change_points[:-1, 1] + 1)


@pytest.mark.parametrize("prediction", PREDICTIONS)
@pytest.mark.parametrize("key", sorted(REFERENCE["videos"]))
def test_every_metric_equals_the_reference(key, prediction):
    expected = REFERENCE["videos"][key][prediction]
    result = evaluate_mrhisum_video(np.asarray(expected["scores"], dtype=np.float32), **video(key))
    for metric in METRICS:
        assert getattr(result, metric) == pytest.approx(expected[metric], abs=1e-6), metric
    assert result.summary_frames == expected["summary_len"] and result.summary.size == expected["summary_array_len"]
    assert hashlib.sha256(result.summary.astype(np.uint8).tobytes()).hexdigest() == expected["summary_sha256"]


def test_scores_too_large_for_float32_exponentials_rank_as_the_same_scores_shifted():
    """The reference's softmax overflows above ~88 (NaN, then scikit-learn refuses); the order it ranks by is kept."""
    key = sorted(REFERENCE["videos"])[0]
    scores = np.round(np.asarray(REFERENCE["videos"][key]["gt_noisy"]["scores"], dtype=np.float64) * 64) / 64
    plain = evaluate_mrhisum_video(scores.astype(np.float32), **video(key))
    large = evaluate_mrhisum_video((scores + 1000).astype(np.float32), **video(key))
    assert np.isfinite(large.map50) and np.isfinite(large.map15)
    assert (large.map50, large.map15) == (plain.map50, plain.map15)


@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_the_command_reproduces_the_reference_file(tmp_path, prediction):
    scores = tmp_path / "scores.json"
    scores.write_text(json.dumps({k: v[prediction]["scores"] for k, v in REFERENCE["videos"].items()}))
    out = tmp_path / "O.json"
    assert evaluation_main(["--dataset", "MrHiSum", "--h5", str(H5), "--split-file", str(SPLIT),
                            "--scores", str(scores), "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    for key, expected in REFERENCE["videos"].items():
        for metric in METRICS:
            assert written["videos"][key][metric] == pytest.approx(expected[prediction][metric], abs=1e-6)
    for metric in METRICS:
        assert written["mean"][metric] == pytest.approx(REFERENCE["means"][prediction][metric], abs=1e-6)


def test_the_command_scores_one_subset_of_the_split_file(tmp_path, capsys):
    scores = tmp_path / "scores.json"
    scores.write_text(json.dumps({k: v["uniform"]["scores"] for k, v in REFERENCE["videos"].items()}))
    out = tmp_path / "O.json"
    assert evaluation_main(["--dataset", "mrhisum", "--h5", str(H5), "--split-file", str(SPLIT), "--subset", "test",
                            "--scores", str(scores), "--out", str(out)]) == 0
    assert set(json.loads(out.read_text())["videos"]) == set(json.loads(SPLIT.read_text())["test_keys"])


def test_the_shot_value_includes_the_next_shots_first_step_as_the_reference_does():
    # shots [0, 1] and [2, 3]; budget floor(0.15 * 14) = 2 steps; the first shot's own mean is 0.1, but with
    # the next shot's first step (0.9) it is 0.367, above the second shot's 0.3.
    scores = np.array([0.1, 0.1, 0.9, 0.0] + [0.0] * 10, dtype=np.float32)
    cps = np.array([[0, 1], [2, 3]] + [[i, i + 1] for i in range(4, 14, 2)])
    summary = mrhisum_summary(scores, cps)
    assert summary[:2].tolist() == [1, 1] and summary[2:].sum() == 0


def test_clips_are_five_steps_with_a_shorter_last_one():
    means = clip_means(np.arange(12, dtype=np.float32))
    assert means.tolist() == [2.0, 7.0, 10.5]
    assert top_clips(means, 0.5).tolist() == [0, 0, 1] and top_clips(means, 0.15).tolist() == [0, 0, 0]


@pytest.mark.parametrize("n", [1, 2, 4, 5, 13])
def test_very_short_videos_are_scored_where_the_reference_crashes_or_has_no_positive_clip(n):
    """n = 1 crashes the reference (torch.split of a 0-d tensor); here every n gives numbers:
    no positive clip gives AP 0 (as scikit-learn >= 1.1 does), no shot within the budget gives F1 0."""
    rng = np.random.default_rng(n)
    gtscore = rng.random(n).astype(np.float32)
    gtscore /= gtscore.max()
    cps = np.array([[0, n - 1]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedCorrelationWarning)
        result = evaluate_mrhisum_video(rng.random(n), gtscore=gtscore, change_points=cps,
                                        gt_summary=np.zeros(n, dtype=np.float32))
    assert result.f1 == 0.0 and result.map15 == 0.0
    assert all(np.isfinite(getattr(result, m)) for m in METRICS)


def test_a_constant_gtscore_gives_zero_correlation_with_a_warning_instead_of_nan():
    n = 40
    with pytest.warns(UndefinedCorrelationWarning):
        result = evaluate_mrhisum_video(np.linspace(0, 1, n), gtscore=np.ones(n, dtype=np.float32),
                                        change_points=np.array([[0, 19], [20, 39]]),
                                        gt_summary=np.zeros(n, dtype=np.float32))
    assert result.kendall == 0.0 and result.spearman == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedCorrelationWarning)
        assert np.isnan(evaluate_mrhisum_video(np.linspace(0, 1, n), gtscore=np.ones(n, dtype=np.float32),
                                               change_points=np.array([[0, 39]]), gt_summary=np.zeros(n),
                                               undefined_correlation=float("nan")).kendall)


def test_two_empty_summaries_score_zero_as_in_the_reference():
    assert summary_f1(np.zeros(10), np.zeros(10)) == 0.0
    assert summary_f1(np.ones(10), np.ones(10)) == pytest.approx(100.0, abs=1e-5)


@pytest.mark.parametrize("change, words", [
    (lambda cps: cps[:-1], "the last row must end at n - 1"),                      # the last shot missing
    (lambda cps: np.vstack([[[1, cps[0, 1]]], cps[1:]]), "from step 0"),         # not starting at 0
    (lambda cps: np.vstack([cps[:-1], [[cps[-1, 0], cps[-1, 1] - 1]]]), "the last row must end"),  # ends at n - 2
    (lambda cps: np.vstack([cps[:1], [[cps[1, 0] + 1, cps[1, 1]]], cps[2:]]), "starting where the previous"),
])
def test_change_points_that_do_not_tile_the_video_are_refused(tmp_path, change, words):
    path = tmp_path / "mr.h5"
    with h5py.File(H5) as source, h5py.File(path, "w") as target:
        source.copy("video_359", target)
        cps = change(target["video_359"]["change_points"][()])
        del target["video_359"]["change_points"]
        target["video_359"]["change_points"] = cps
    with pytest.raises(DatasetError) as error:
        load_h5(path, schema="mrhisum")
    assert "video 'video_359'" in str(error.value) and "field 'change_points'" in str(error.value)
    assert words in str(error.value)


@pytest.mark.slow
def test_mrhisum_schema_trains_selects_on_val_and_reports_test(tmp_path):
    data = tmp_path / "data"
    make_mrhisum_like(data, n_videos=12, min_steps=20, max_steps=40, seed=3)
    split = json.loads((data / "mr_hisum_split.json").read_text())
    common = ["--datasets", "MrHiSum", "--data-dir", str(data), "--splits", "1", "--device", "cpu",
              "--weights-dir", str(tmp_path / "w"), "--results-dir", str(tmp_path / "r")]
    assert train.main([*common, "--epochs", "2", "--selection", "map50", "--no-pretrained", "--quiet"]) == 0
    record = json.loads((tmp_path / "w" / "MrHiSum" / "split1.json").read_text())
    assert record["protocol"] == "MrHiSum" and record["selected_by"] == "map50"
    assert set(record["metrics"]) >= {"f1", "map50", "map15", "kendall", "spearman"}
    assert set(record["test_metrics"]) >= {"f1", "map50", "map15", "kendall", "spearman"}
    log = [json.loads(line) for line in (tmp_path / "r" / "MrHiSum_split1.jsonl").read_text().splitlines()]
    assert all(sorted(line["order"]) == sorted(split["train_keys"]) for line in log)

    assert inference.main([*common, "--out", str(tmp_path / "inference.json")]) == 0
    scored = json.loads((tmp_path / "inference.json").read_text())["datasets"]["MrHiSum"]
    assert set(scored["splits"]["1"]["videos"]) == set(split["test_keys"])
    for metric in ("f1", "map50", "map15", "kendall", "spearman"):
        assert scored["final"][metric] == pytest.approx(record["test_metrics"][metric], abs=1e-9)
