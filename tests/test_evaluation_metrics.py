"""F1 and rank correlations against straightforward and scipy references."""

import warnings

import numpy as np
import pytest
from scipy.stats import kendalltau, rankdata, spearmanr

from evaluation import UndefinedCorrelationWarning, f1_against_users, rank_correlations, rank_correlations_many
from evaluation.metrics import pairwise_rank_correlations


def f1_per_user_plain(pred, users):
    """PGL-SUM's F-score, per user, written out plainly (both summaries non-empty)."""
    length = max(len(pred), users.shape[1])
    s = np.zeros(length, dtype=int)
    s[: len(pred)] = pred
    scores = []
    for row in users:
        g = np.zeros(length, dtype=int)
        g[: len(row)] = row
        hit = (s & g).sum()
        p, r = hit / s.sum(), hit / g.sum()
        scores.append(0.0 if p + r == 0 else 2 * p * r * 100 / (p + r))
    return scores


def scipy_pair(a, b):
    return kendalltau(rankdata(a), rankdata(b))[0], spearmanr(a, b)[0]


def test_f1_matches_plain_reference_with_padding():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(20, 200))
        pred = (rng.random(n + int(rng.integers(-5, 6))) < 0.2).astype(int)
        pred[0] = 1
        users = (rng.random((int(rng.integers(1, 6)), n)) < 0.2).astype(np.float32)
        users[:, 0] = 1
        expected = f1_per_user_plain(pred, users.astype(int))
        f_max, f_avg = f1_against_users(pred, users)
        assert f_max == pytest.approx(max(expected), abs=1e-12)
        assert f_avg == pytest.approx(np.mean(expected), abs=1e-12)


def test_f1_single_user_and_perfect_match():
    s = np.array([0, 1, 1, 0])
    assert f1_against_users(s, s) == (100.0, 100.0)
    assert f1_against_users(s, np.array([[1, 0, 0, 1]])) == (0.0, 0.0)


def test_f1_is_zero_for_an_empty_summary_or_empty_user():
    users = np.array([[0, 1, 1, 0], [0, 0, 0, 0]])
    assert f1_against_users(np.zeros(4), users) == (0.0, 0.0)
    f_max, f_avg = f1_against_users(np.array([0, 1, 1, 0]), users)
    assert (f_max, f_avg) == (100.0, 50.0)  # the empty user contributes 0


@pytest.mark.parametrize("levels_a, levels_b", [(1000, 1000), (1000, 5), (5, 1000), (3, 4), (2, 30)])
def test_rank_correlations_equal_scipy(levels_a, levels_b):
    rng = np.random.default_rng(levels_a * 7 + levels_b)
    for n in (2, 3, 17, 250):
        a = rng.integers(0, levels_a, n) / levels_a
        b = rng.integers(0, levels_b, n) / levels_b
        if np.unique(a).size < 2 or np.unique(b).size < 2:
            continue
        tau, rho = rank_correlations(a, b)
        ref_tau, ref_rho = scipy_pair(a, b)
        assert tau == pytest.approx(ref_tau, abs=1e-12)
        assert rho == pytest.approx(ref_rho, abs=1e-12)


def test_rank_correlations_many_equal_scipy_row_by_row():
    rng = np.random.default_rng(5)
    x = rng.random(300)
    x[::7] = x[0]  # ties on the compared side too
    rows = rng.integers(1, 6, (20, 300)) / 5.0  # like normalised TVSum annotations
    taus, rhos = rank_correlations_many(x, rows)
    for row, tau, rho in zip(rows, taus, rhos):
        ref_tau, ref_rho = scipy_pair(x, row)
        assert tau == pytest.approx(ref_tau, abs=1e-12)
        assert rho == pytest.approx(ref_rho, abs=1e-12)
    # Rows with many distinct values use scipy; same answer.
    rows = rng.random((3, 300))
    taus, rhos = rank_correlations_many(x, rows)
    for row, tau, rho in zip(rows, taus, rhos):
        assert (tau, rho) == pytest.approx(scipy_pair(x, row), abs=1e-12)


def test_undefined_correlation_is_zero_with_a_warning():
    with pytest.warns(UndefinedCorrelationWarning):
        assert rank_correlations(np.ones(10), np.arange(10.0)) == (0.0, 0.0)
    with pytest.warns(UndefinedCorrelationWarning):
        tau, rho = rank_correlations(np.arange(10.0), np.ones(10), undefined=float("nan"))
    assert np.isnan(tau) and np.isnan(rho)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reversed_ranks = rank_correlations(np.arange(10.0), np.arange(10.0)[::-1])  # defined: no warning
    assert reversed_ranks == pytest.approx((-1.0, -1.0), abs=1e-12)


def test_rank_correlations_reject_length_mismatch():
    with pytest.raises(ValueError, match="length"):
        rank_correlations(np.arange(3.0), np.arange(4.0))


def test_pairwise_rank_correlations_equal_scipy():
    rng = np.random.default_rng(9)
    # Segment-wise constant ratings, like TVSum's (runs of equal columns), and plain random ones.
    segments = rng.integers(0, 5, (6, 40))
    for codes in (np.repeat(segments, rng.integers(1, 30, 40), axis=1), rng.integers(0, 5, (6, 500))):
        tau, rho = pairwise_rank_correlations(codes, 5)
        for i in range(codes.shape[0]):
            for j in range(codes.shape[0]):
                ref_tau, ref_rho = scipy_pair(codes[i], codes[j])
                assert tau[i, j] == pytest.approx(ref_tau, abs=1e-9)
                assert rho[i, j] == pytest.approx(ref_rho, abs=1e-9)


def test_pairwise_rank_correlations_constant_row_is_nan():
    codes = np.array([[0, 0, 0, 0], [0, 1, 2, 3], [3, 2, 1, 0]])
    tau, rho = pairwise_rank_correlations(codes, 4)
    assert np.isnan(tau[0]).all() and np.isnan(rho[0]).all()
    assert tau[1, 2] == pytest.approx(-1.0) and rho[1, 2] == pytest.approx(-1.0)
