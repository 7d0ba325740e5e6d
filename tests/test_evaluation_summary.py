"""Scores -> frame scores -> shot scores -> keyshot summary, as the original builds it."""

import numpy as np
import pytest

from evaluation import frame_scores, keyshot_summary, select_keyshots, shot_scores
from evaluation.summary import summary_budget


def plain_knapsack(values, weights, capacity):
    best = [[0.0] * (capacity + 1) for _ in range(len(values) + 1)]
    for i in range(1, len(values) + 1):
        for c in range(1, capacity + 1):
            best[i][c] = best[i - 1][c]
            if weights[i - 1] <= c:
                best[i][c] = max(values[i - 1] + best[i - 1][c - weights[i - 1]], best[i - 1][c])
    chosen, c = [], capacity
    for i in range(len(values), 0, -1):
        if best[i][c] != best[i - 1][c]:
            chosen.append(i - 1)
            c -= weights[i - 1]
    return sorted(chosen)


def plain_summary(scores, change_points, n_frames, picks):
    """The original pipeline spelled out step by step (float32 frames, per-shot numpy mean)."""
    frames = np.zeros(n_frames, dtype=np.float32)
    bounds = list(picks) + ([] if picks[-1] == n_frames else [n_frames])
    for i in range(len(bounds) - 1):
        frames[bounds[i] : bounds[i + 1]] = scores[i]
    values = [frames[s : e + 1].mean().item() for s, e in change_points]
    weights = [int(e - s + 1) for s, e in change_points]
    chosen = plain_knapsack(values, weights, int((change_points[-1][1] + 1) * 0.15))
    out = np.zeros(change_points[-1][1] + 1, dtype=np.uint8)
    for i in chosen:
        out[change_points[i][0] : change_points[i][1] + 1] = 1
    return out


def random_video(rng, n_frames):
    n_shots = int(rng.integers(3, 25))
    cuts = np.sort(rng.choice(np.arange(1, n_frames), n_shots - 1, replace=False))
    cps = np.stack([np.r_[0, cuts], np.r_[cuts - 1, n_frames - 1]], axis=1)
    picks = np.arange(0, n_frames, 15)
    return cps, picks


def test_frame_scores_layout():
    fs = frame_scores([0.5, 0.25, 1.0], [0, 15, 30], 40)
    assert fs.dtype == np.float32 and fs.size == 40
    assert (fs[:15] == 0.5).all() and (fs[15:30] == 0.25).all() and (fs[30:] == 1.0).all()
    # Frames before the first pick score 0; a last pick at n_frames covers nothing.
    fs = frame_scores([0.5, 0.25], [3, 10], 10)
    assert (fs[:3] == 0).all() and (fs[3:] == 0.5).all()


def test_frame_scores_round_to_float32_like_the_original():
    a = 0.1
    b = np.nextafter(a, 1.0)  # different in float64, equal once stored as float32
    fs = frame_scores([a, b], [0, 5], 10)
    assert fs[0] == fs[9]
    values = shot_scores(fs, [[0, 4], [5, 9]])
    assert values[0] == values[1]


def test_shot_scores_are_numpy_float32_means():
    rng = np.random.default_rng(1)
    fs = rng.random(1000).astype(np.float32)
    cps = np.array([[0, 299], [300, 300], [301, 999]])
    expected = [fs[s : e + 1].mean().item() for s, e in cps]
    assert shot_scores(fs, cps).tolist() == expected


def test_budget_is_fifteen_percent_of_the_last_shot_end():
    assert summary_budget([[0, 9], [10, 99]]) == 15
    assert summary_budget([[0, 9], [10, 106]]) == int(107 * 0.15)
    assert summary_budget([[0, 99]], proportion=0.5) == 50


def test_matches_plain_pipeline_on_random_videos():
    rng = np.random.default_rng(2)
    for trial in range(60):
        n_frames = int(rng.integers(60, 900))
        cps, picks = random_video(rng, n_frames)
        if trial % 3 == 0:
            scores = rng.integers(0, 3, picks.size) / 2.0  # many ties
        else:
            scores = rng.random(picks.size)
        summary, selected = select_keyshots(scores, cps, n_frames, picks)
        assert np.array_equal(summary, plain_summary(scores.tolist(), cps.tolist(), n_frames, picks.tolist()))
        assert np.array_equal(keyshot_summary(scores, cps, n_frames, picks), summary)
        lengths = cps[:, 1] - cps[:, 0] + 1
        assert lengths[selected].sum() == summary.sum() <= summary_budget(cps)


def test_constant_scores_keep_the_earliest_shots_like_the_original():
    cps = np.array([[0, 9], [10, 19], [20, 29], [30, 39]])
    picks = np.arange(0, 40, 5)
    summary, selected = select_keyshots(np.full(8, 0.5), cps, 40, picks, proportion=0.5)
    assert selected.tolist() == plain_knapsack([0.5] * 4, [10] * 4, 20) == [0, 1]


def test_summary_covers_change_points_running_past_n_frames():
    # The original sizes the summary by the last shot; frames past n_frames are kept.
    cps = np.array([[0, 9], [10, 21]])
    summary = keyshot_summary([0.1, 0.9], cps, 20, [0, 10], proportion=0.6)
    assert summary.size == 22 and summary[10:].all() and not summary[:10].any()


@pytest.mark.parametrize(
    "scores, picks, n_frames, change_points, message",
    [
        ([0.1, 0.2], [0, 15, 30], 40, [[0, 39]], "one score per pick"),
        ([0.1, 0.2, 0.3, 0.4], [0, 15, 30], 40, [[0, 39]], "one score per pick"),
        ([0.1, float("nan"), 0.3], [0, 15, 30], 40, [[0, 39]], "finite"),
        ([0.1, 0.2, 0.3], [0, 30, 15], 40, [[0, 39]], "picks"),
        ([0.1, 0.2, 0.3], [0, 15, 50], 40, [[0, 39]], "picks"),
        ([0.1, 0.2, 0.3], [0, 15, 30], 40, [[0, 39, 4]], "change_points"),
        ([0.1, 0.2, 0.3], [0, 15, 30], 40, [[5, 2]], "change_points"),
        ([0.1, 0.2, 0.3], [0, 15, 30], 40, [[0, 39], [40, 45]], "change_points row 1"),
    ],
)
def test_bad_inputs_are_clear_errors(scores, picks, n_frames, change_points, message):
    with pytest.raises(ValueError, match=message):
        keyshot_summary(scores, change_points, n_frames, picks)
