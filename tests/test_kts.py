"""Kernel temporal segmentation: parity with the original and the bounded long-sequence path."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from video.kts import boundaries, boundaries_to_shots, penalties

FIXTURES = Path(__file__).parent / "fixtures"
REFERENCE = json.loads((FIXTURES / "kts_reference.json").read_text())


def loop_cpd_auto(x, vmax=1.0):
    """Cell-by-cell transcription of the original recurrence, for small cross-checks."""
    kernel = x @ x.T
    n = len(kernel)
    diag_prefix = np.cumsum(np.concatenate(([0.0], np.diag(kernel))))
    box = np.zeros((n + 1, n + 1))
    box[1:, 1:] = np.cumsum(np.cumsum(kernel, 0), 1)
    scatter = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            numerator = ((box[j + 1, j + 1] + box[i, i]) - box[j + 1, i]) - box[i, j + 1]
            scatter[i, j] = (diag_prefix[j + 1] - diag_prefix[i]) - numerator / (j - i + 1.0)
    cost = np.full((n, n + 1), 1e101)
    cost[0, 1:] = scatter[0]
    previous = np.zeros((n, n + 1), dtype=int)
    for k in range(1, n):
        for end in range(k + 1, n + 1):
            for t in range(k, end):
                value = scatter[t, end - 1] + cost[k - 1, t]
                if value < cost[k, end]:
                    cost[k, end], previous[k, end] = value, t
    count = int(np.argmin(cost[:, n] / float(n) + penalties(n, vmax)))
    change_points, cursor = [], n
    for k in range(count, 0, -1):
        cursor = previous[k, cursor]
        change_points.insert(0, cursor)
    return change_points


def planted(n, dim, cuts, noise=0.3, seed=0):
    rng = np.random.default_rng(seed)
    edges = [0, *cuts, n]
    x = np.concatenate([rng.normal(size=dim) + noise * rng.normal(size=(b - a, dim))
                        for a, b in zip(edges[:-1], edges[1:])])
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("case", REFERENCE, ids=lambda c: f"n={c['n']}")
def test_matches_original_on_fixture(case):
    x = np.load(FIXTURES / "kts_reference_inputs.npz")[f"X{case['case']}"]
    assert boundaries(x).tolist() == case["cps"]


@pytest.mark.parametrize("case", [c for c in REFERENCE if c["n"] <= 300], ids=lambda c: f"n={c['n']}")
@pytest.mark.parametrize("desc_rate", [15, 30])
def test_desc_rate_matches_the_originals_penalty_on_the_fixture_inputs(case, desc_rate):
    """cpd_auto(..., desc_rate): the penalty for the length before subsampling, the scatter over the samples."""
    from benchmarks.kts import loop_cpd_auto as original_with_desc_rate

    x = np.load(FIXTURES / "kts_reference_inputs.npz")[f"X{case['case']}"]
    found = boundaries(x, desc_rate=desc_rate)
    assert found.tolist() == original_with_desc_rate(x, desc_rate=desc_rate).tolist()
    assert len(found) >= len(case["cps"])            # a smaller penalty per change point: never fewer shots


@pytest.mark.parametrize("seed", range(30))
def test_matches_loop_transcription_including_ties(seed):
    rng = np.random.default_rng(seed)
    n, dim = int(rng.integers(2, 28)), int(rng.integers(1, 5))
    if seed % 3 == 0:
        x = rng.normal(size=(n, dim))
    else:  # a few repeated vectors: many exactly equal costs, so tie-breaking matters
        distinct = 1 + seed % 3
        x = rng.normal(size=(distinct, dim))[rng.integers(0, distinct, n)]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    vmax = (0.05, 1.0, 4.0)[seed % 3]
    assert boundaries(x, vmax=vmax).tolist() == loop_cpd_auto(x, vmax)


def test_recovers_planted_changes():
    cuts = [30, 75, 160, 170, 260]
    assert boundaries(planted(300, 64, cuts)).tolist() == cuts


@pytest.mark.parametrize("exact_limit", [120, 250])
def test_grid_path_recovers_planted_changes(exact_limit):
    cuts = [31, 77, 160, 173, 262, 401, 455]
    x = planted(500, 64, cuts, seed=4)
    assert boundaries(x).tolist() == cuts
    assert boundaries(x, exact_limit=exact_limit).tolist() == cuts


def test_grid_path_on_a_long_sequence():
    rng = np.random.default_rng(5)
    cuts = np.cumsum(rng.integers(40, 400, size=40))
    x = planted(int(cuts[-1]) + 100, 32, cuts.tolist(), noise=0.2, seed=6)
    found = boundaries(x, exact_limit=400)
    assert found.tolist() == cuts.tolist()


@pytest.mark.parametrize("n", [0, 1])
def test_too_short_has_no_change_points(n):
    assert boundaries(np.ones((n, 8)) / np.sqrt(8)).tolist() == []


def test_a_huge_vmax_gives_no_change_point_and_no_overflow_warning():
    x = planted(300, 64, [30, 75, 160])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert boundaries(x, vmax=1e308).tolist() == []
        assert boundaries(x, vmax=1e308, exact_limit=120).tolist() == []


def test_identical_frames_make_one_segment():
    assert boundaries(np.ones((50, 4)) / 2).tolist() == []


def test_rejects_bad_shapes_and_values():
    with pytest.raises(ValueError, match="2-D"):
        boundaries(np.ones(10))
    with pytest.raises(ValueError, match="NaN"):
        boundaries(np.full((5, 3), np.nan))


def test_shots_cover_every_frame_once():
    shots = boundaries_to_shots([15, 45], 60)
    assert shots.tolist() == [[0, 14], [15, 44], [45, 59]]
    assert boundaries_to_shots([], 7).tolist() == [[0, 6]]


def test_shots_reject_out_of_range_change_points():
    with pytest.raises(ValueError):
        boundaries_to_shots([0, 5], 10)
    with pytest.raises(ValueError):
        boundaries_to_shots([5, 5], 10)
    with pytest.raises(ValueError):
        boundaries_to_shots([10], 10)
