"""The vectorised knapsack: optimal, and the same choice as the original CSTA DP."""

import itertools

import numpy as np
import pytest

from evaluation.knapsack import knapsack


def table_knapsack(values, weights, capacity):
    """Plain two-loop 0/1 knapsack read back the way the original does.

    best[i][c] is the best total using the first i items within capacity c
    (column 0 is always 0).  Reading back from the last item, an item counts
    as chosen only when its row changes the best value at the current capacity.
    """
    n = len(values)
    best = [[0.0] * (capacity + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        for c in range(1, capacity + 1):
            skip = best[i - 1][c]
            if weights[i - 1] <= c:
                take = values[i - 1] + best[i - 1][c - weights[i - 1]]
                best[i][c] = max(take, skip)
            else:
                best[i][c] = skip
    chosen = []
    c = capacity
    for i in range(n, 0, -1):
        if best[i][c] != best[i - 1][c]:
            chosen.append(i - 1)
            c -= weights[i - 1]
    return sorted(chosen)


def brute_force_best(values, weights, capacity):
    best = 0.0
    for r in range(len(values) + 1):
        for subset in itertools.combinations(range(len(values)), r):
            if sum(weights[i] for i in subset) <= capacity:
                best = max(best, sum(values[i] for i in subset))
    return best


def random_instance(rng, tie_heavy):
    n = int(rng.integers(0, 9))
    if tie_heavy:
        values = rng.integers(0, 4, n).astype(float).tolist()
        weights = rng.integers(1, 4, n).tolist()
    else:
        values = rng.random(n).tolist()
        weights = rng.integers(1, 12, n).tolist()
    capacity = int(rng.integers(0, sum(weights) + 2)) if n else int(rng.integers(0, 5))
    return values, weights, capacity


@pytest.mark.parametrize("tie_heavy", [False, True])
def test_matches_brute_force_optimum_and_original_choice(tie_heavy):
    rng = np.random.default_rng(7 + tie_heavy)
    for _ in range(300):
        values, weights, capacity = random_instance(rng, tie_heavy)
        chosen = knapsack(values, weights, capacity)
        assert chosen.tolist() == table_knapsack(values, weights, capacity)
        assert sum(weights[i] for i in chosen) <= capacity
        assert sum(values[i] for i in chosen) == pytest.approx(brute_force_best(values, weights, capacity), abs=1e-12)


def test_equal_values_and_equal_weights_choose_like_original():
    # All items interchangeable: the original keeps the earliest ones.
    assert knapsack([1.0] * 5, [2] * 5, 6).tolist() == [0, 1, 2]
    assert table_knapsack([1.0] * 5, [2] * 5, 6) == [0, 1, 2]
    # A tie between one heavy item and two light ones.
    for values, weights, cap in [
        ([2.0, 1.0, 1.0], [2, 1, 1], 2),
        ([1.0, 1.0, 2.0], [1, 1, 2], 2),
        ([0.5, 0.25, 0.25, 0.5], [4, 2, 2, 4], 4),
        ([0.0, 0.0, 1.0], [1, 1, 1], 3),  # zero-value items are never taken
    ]:
        assert knapsack(values, weights, cap).tolist() == table_knapsack(values, weights, cap)


def test_ties_from_float_sums_break_the_same_way():
    # 0.1 + 0.2 != 0.3 in binary floating point: the comparison must be on the
    # same float64 sums as the original's, not on rounded ones.
    values, weights = [0.1, 0.2, 0.3], [1, 1, 2]
    assert knapsack(values, weights, 2).tolist() == table_knapsack(values, weights, 2)
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(1, 8))
        values = (rng.integers(1, 5, n) / 10).tolist()
        weights = rng.integers(1, 5, n).tolist()
        cap = int(rng.integers(0, 12))
        assert knapsack(values, weights, cap).tolist() == table_knapsack(values, weights, cap)


def test_zero_capacity_and_empty_inputs():
    assert knapsack([1.0, 2.0], [1, 1], 0).tolist() == []
    assert knapsack([], [], 10).tolist() == []
    assert knapsack([1.0], [5], 4).tolist() == []  # every item heavier than the budget
    assert knapsack([1.0], [5], 5).tolist() == [0]


def test_zero_weight_items_follow_the_original():
    for values, weights, cap in [([1.0, 2.0], [0, 1], 1), ([1.0], [0], 0), ([3.0, 1.0], [0, 0], 2)]:
        assert knapsack(values, weights, cap).tolist() == table_knapsack(values, weights, cap)


def test_large_instances_match_reference_dp():
    rng = np.random.default_rng(11)
    for _ in range(3):
        n = 40
        values = rng.random(n).astype(np.float32).astype(float).tolist()
        weights = rng.integers(20, 200, n).tolist()
        cap = int(sum(weights) * 0.15)
        assert knapsack(values, weights, cap).tolist() == table_knapsack(values, weights, cap)


def test_a_long_video_stays_within_its_budget():
    """The 20,000-frame, 300-shot instance whose speed docs/evaluation.md reports."""
    rng = np.random.default_rng(0)
    n_frames, n_shots = 20_000, 300
    cuts = np.sort(rng.choice(np.arange(1, n_frames), n_shots - 1, replace=False))
    weights = np.diff(np.r_[0, cuts, n_frames])
    values = rng.random(n_shots)
    chosen = knapsack(values, weights, int(n_frames * 0.15))
    assert weights[chosen].sum() <= int(n_frames * 0.15)


@pytest.mark.parametrize(
    "values, weights, capacity, message",
    [
        ([1.0, 2.0], [1], 3, "one weight per value"),
        ([1.0], [-1], 3, "non-negative"),
        ([1.0], [1.5], 3, "integers"),
        ([float("nan")], [1], 3, "finite"),
        ([1.0], [1], -1, "capacity"),
    ],
)
def test_rejects_bad_input(values, weights, capacity, message):
    with pytest.raises(ValueError, match=message):
        knapsack(values, weights, capacity)
