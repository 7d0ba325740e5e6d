"""F-score against user summaries and rank correlations (Kendall tau-b, Spearman rho).

Conventions (see ``docs/evaluation.md``):

* **F1** follows PGL-SUM's ``evaluate_summary``: summaries are padded with zeros
  to a common length, precision/recall are computed per user and F1 is in
  percent.  Where the original divides 0 by 0 (an empty predicted summary, or a
  user who selected nothing) the F1 against that user is 0 here: nothing was
  matched, so nothing was retrieved.
* **Kendall tau** is tau-b, as ``scipy.stats.kendalltau(rankdata(a), rankdata(b))``
  gives it; **Spearman rho** is ``scipy.stats.spearmanr(a, b)`` (Pearson
  correlation of the average ranks).
* When a correlation is **undefined** (one side is constant, e.g. a constant
  prediction or an empty summary) scipy returns NaN.  Here the value
  ``undefined`` (0.0 by default: no rank information, no agreement) is reported
  instead and an :class:`UndefinedCorrelationWarning` is issued.

The correlation code has a fast exact path for the common case where one side
takes only a few distinct values (TVSum annotations take at most 5, a binary
summary 2): tau-b then comes from per-level cumulative counts in O(n log n)
with numpy, vectorised over many reference rows, instead of one scipy call per
row.  Other inputs go through scipy.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import kendalltau, rankdata, spearmanr

__all__ = [
    "UndefinedCorrelationWarning",
    "f1_against_users",
    "rank_correlations",
    "rank_correlations_many",
    "RankedReference",
    "pairwise_rank_correlations",
]

#: A side with at most this many distinct values uses the level-count path.
MAX_LEVELS = 64


class UndefinedCorrelationWarning(UserWarning):
    """A rank correlation was undefined (constant input) and a fixed value was reported.

    Commands count it over the videos it concerns and say it once (``storage.notices``): ``cause`` is the
    same for every repeat, ``meaning`` (set on each warning) what was reported instead.
    """

    cause = "tau/rho undefined (constant scores or reference)"
    meaning = ""


# --------------------------------------------------------------------------- F1


def f1_against_users(summary, user_summary) -> tuple[float, float]:
    """F1 (percent) of a binary summary against every user summary.

    ``summary``: one 0/1 entry per frame.  ``user_summary``: (n_users, n_frames)
    0/1 (a single 1-D summary counts as one user).  Non-zero means selected.
    Returns ``(max over users, mean over users)``: the first is the SumMe
    convention, the second the TVSum one.
    """
    pred = np.asarray(summary).reshape(-1)
    users = np.asarray(user_summary)
    if users.ndim == 1:
        users = users[None, :]
    if users.ndim != 2 or users.shape[0] == 0:
        raise ValueError(f"user_summary must have shape (n_users, n_frames), got {users.shape}")

    length = max(pred.size, users.shape[1])
    s = np.zeros(length, dtype=bool)
    s[: pred.size] = pred.astype(np.int64) != 0
    g = np.zeros((users.shape[0], length), dtype=bool)
    g[:, : users.shape[1]] = users.astype(np.int64) != 0

    overlap = (g & s).sum(axis=1).astype(np.float64)
    n_pred = float(s.sum())
    n_user = g.sum(axis=1).astype(np.float64)
    f1 = np.zeros(users.shape[0], dtype=np.float64)
    hit = overlap > 0  # implies a non-empty prediction and user summary
    precision = overlap[hit] / n_pred
    recall = overlap[hit] / n_user[hit]
    f1[hit] = 2 * precision * recall * 100 / (precision + recall)
    return float(f1.max()), float(f1.mean())


# ----------------------------------------------------------- rank correlations


def _report_undefined(values: np.ndarray, undefined: float, what: str) -> np.ndarray:
    bad = np.isnan(values)
    if bad.any():
        warning = UndefinedCorrelationWarning(f"{what} undefined for {int(bad.sum())} of {bad.size} comparison(s) "
                                              f"(constant input); reported as {undefined}")
        warning.meaning = "reported as NaN" if np.isnan(undefined) else f"counted as {undefined:g}"
        warnings.warn(warning, stacklevel=3)
        values = np.where(bad, undefined, values)
    return values


def _tie_pairs(counts: np.ndarray, axis=-1) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.int64)
    return (counts * (counts - 1) // 2).sum(axis=axis)


def _scipy_pair(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tau = kendalltau(rankdata(a), rankdata(b))[0]
        rho = spearmanr(a, b)[0]
    return float(tau), float(rho)


class RankedReference:
    """Reference rows (e.g. one video's annotators) prepared once for many comparisons.

    ``rows`` is (n_rows, n).  Their average ranks (centred, unit length) and,
    when the rows take few distinct values, their level codes are computed once
    so that :meth:`correlate` costs only the ranking of the compared vector.
    """

    def __init__(self, rows):
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim == 1:
            rows = rows[None, :]
        if rows.ndim != 2:
            raise ValueError(f"reference rows must be 2-D, got shape {rows.shape}")
        self.rows = rows
        self.n = rows.shape[1]
        ranks = rankdata(rows, axis=1) if self.n else rows.copy()
        centred = ranks - ranks.mean(axis=1, keepdims=True) if self.n else ranks
        norm = np.sqrt((centred * centred).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            self._unit_ranks = centred / norm[:, None]
        self._levels = None
        levels = np.unique(rows)
        if levels.size <= MAX_LEVELS and np.all(np.isfinite(levels)):
            codes = np.searchsorted(levels, rows)
            counts = np.stack([np.bincount(c, minlength=levels.size) for c in codes])
            self._levels = (codes, levels.size, _tie_pairs(counts))

    def correlate(self, x) -> tuple[np.ndarray, np.ndarray]:
        """Raw (Kendall tau-b, Spearman rho) of ``x`` against every row; NaN where undefined."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if x.size != self.n:
            raise ValueError(f"length mismatch: {x.size} values against reference rows of {self.n}")
        n_rows = self.rows.shape[0]
        if self.n < 2:
            return np.full(n_rows, np.nan), np.full(n_rows, np.nan)

        rx = rankdata(x)
        rx = rx - rx.mean()
        nx = np.sqrt(rx @ rx)
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = np.clip(self._unit_ranks @ (rx / nx), -1.0, 1.0)

        if self._levels is None:
            tau = np.array([_scipy_pair(x, row)[0] for row in self.rows])
        else:
            tau = _tau_b_against_levels(x, *self._levels)
        return tau, rho


def _tau_b_against_levels(x: np.ndarray, codes: np.ndarray, k: int, row_ties: np.ndarray) -> np.ndarray:
    """Kendall tau-b of ``x`` (any values) against rows coded 0..k-1.

    Sort by ``x``; for each element count the earlier elements with strictly
    smaller ``x`` at each level (cumulative one-hot counts, taken at the start
    of the element's tie group).  Concordant minus discordant pairs is the sum
    of (earlier elements at a lower level) - (earlier elements at a higher level).
    """
    n = x.size
    order = np.argsort(x, kind="stable")
    xs = x[order]
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    new_group[1:] = xs[1:] != xs[:-1]
    group_first = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    group_sizes = np.diff(np.append(np.flatnonzero(new_group), n))
    x_ties = _tie_pairs(group_sizes)

    c = codes[:, order]  # (rows, n)
    onehot = (c[:, :, None] == np.arange(k)).astype(np.int64)
    before = np.cumsum(onehot, axis=1) - onehot  # counts at positions < j
    before = before[:, group_first, :]  # ... with strictly smaller x
    cum_levels = np.cumsum(before, axis=2)  # earlier elements at level <= l
    total = cum_levels[:, :, -1]
    at_or_below = np.take_along_axis(cum_levels, c[:, :, None], axis=2)[:, :, 0]
    below = at_or_below - np.take_along_axis(before, c[:, :, None], axis=2)[:, :, 0]
    above = total - at_or_below
    con_minus_dis = (below - above).sum(axis=1).astype(np.float64)

    pairs = n * (n - 1) // 2
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = con_minus_dis / np.sqrt(float(pairs - x_ties)) / np.sqrt((pairs - row_ties).astype(np.float64))
    tau[(pairs - row_ties == 0) | (pairs - x_ties == 0)] = np.nan
    return np.clip(tau, -1.0, 1.0)


def rank_correlations_many(x, rows, *, undefined: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Kendall tau-b and Spearman rho of ``x`` against each row of ``rows``.

    ``rows`` may be a 2-D array or a prepared :class:`RankedReference`.
    Undefined values are replaced by ``undefined`` (pass ``float('nan')`` for
    scipy's behaviour) with an :class:`UndefinedCorrelationWarning`.
    """
    ref = rows if isinstance(rows, RankedReference) else RankedReference(rows)
    tau, rho = ref.correlate(x)
    tau = _report_undefined(tau, undefined, "Kendall tau")
    rho = _report_undefined(rho, undefined, "Spearman rho")
    return tau, rho


def rank_correlations(a, b, *, undefined: float = 0.0) -> tuple[float, float]:
    """``(kendall, spearman)`` between two equally long vectors.

    Kendall is tau-b of the ranks, Spearman is Pearson of the average ranks —
    the values ``scipy.stats.kendalltau(rankdata(a), rankdata(b))`` and
    ``scipy.stats.spearmanr(a, b)`` give, except that an undefined value (a
    constant side) is reported as ``undefined`` with a warning.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.size != b.size:
        raise ValueError(f"length mismatch: {a.size} against {b.size} values")
    # Put the side with fewer distinct values in the reference: it gets the fast path.
    if np.unique(a).size < np.unique(b).size:
        a, b = b, a
    ref = RankedReference(b[None, :])
    tau, rho = ref.correlate(a)
    tau = _report_undefined(tau, undefined, "Kendall tau")
    rho = _report_undefined(rho, undefined, "Spearman rho")
    return float(tau[0]), float(rho[0])


def pairwise_rank_correlations(codes, n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Kendall tau-b and Spearman rho between every pair of rows of level codes.

    ``codes`` is (n_rows, n) with integer values in ``0..n_levels-1`` (ordered
    levels, e.g. ratings 1..5 mapped to 0..4).  For each pair of rows the
    n_levels x n_levels contingency table is built (all tables at once, as one
    matrix product of one-hot encodings); concordant/discordant pair counts,
    ties and rank sums follow exactly from the tables.  Returns two symmetric
    (n_rows, n_rows) arrays, raw: NaN where undefined.

    Runs of identical consecutive columns (annotations given per segment, as
    TVSum's are) are counted once with their multiplicity, which makes the
    tables cost O(n * rows + runs * (rows*k)^2).
    """
    codes = np.asarray(codes)
    r, n = codes.shape
    k = int(n_levels)
    starts = np.flatnonzero(np.r_[True, np.any(codes[:, 1:] != codes[:, :-1], axis=0)])
    runs = np.diff(np.r_[starts, n]).astype(np.float64)
    distinct = codes[:, starts]
    onehot = np.zeros((starts.size, r * k), dtype=np.float64)
    onehot[np.arange(starts.size)[:, None], np.arange(r) * k + distinct.T] = 1.0
    tables = (onehot.T @ (onehot * runs[:, None])).reshape(r, k, r, k).transpose(0, 2, 1, 3)
    tables = np.rint(tables).astype(np.int64)  # exact integer counts (r, r, k, k)

    # Pairs (i, j) with u_i < u_j and v_i < v_j (concordant) / v_i > v_j (discordant).
    cum = tables.cumsum(axis=2).cumsum(axis=3)  # sum over u' <= u, v' <= v
    lower_left = np.zeros_like(tables)  # u' < u, v' < v
    lower_left[:, :, 1:, 1:] = cum[:, :, :-1, :-1]
    rows_below = np.zeros_like(tables)  # u' < u, any v'
    rows_below[:, :, 1:, :] = cum[:, :, :-1, -1:]
    below_le = np.zeros_like(tables)  # u' < u, v' <= v
    below_le[:, :, 1:, :] = cum[:, :, :-1, :]
    upper_left = rows_below - below_le  # u' < u, v' > v
    con = (tables * lower_left).sum(axis=(2, 3))
    dis = (tables * upper_left).sum(axis=(2, 3))

    counts = tables[np.arange(r), np.arange(r)].diagonal(axis1=1, axis2=2)  # (r, k) level counts
    ties = _tie_pairs(counts)
    pairs = n * (n - 1) // 2
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = (con - dis).astype(np.float64) / np.sqrt((pairs - ties).astype(np.float64))[:, None]
        tau = tau / np.sqrt((pairs - ties).astype(np.float64))[None, :]
    undefined_rows = pairs - ties == 0
    tau[undefined_rows, :] = np.nan
    tau[:, undefined_rows] = np.nan

    # Average rank of each level, centred on the mean rank (n + 1) / 2.
    below = np.cumsum(counts, axis=1) - counts
    level_rank = below + (counts + 1) / 2.0 - (n + 1) / 2.0  # (r, k)
    cov = np.einsum("abuv,au,bv->ab", tables.astype(np.float64), level_rank, level_rank)
    var = np.einsum("au,au->a", counts.astype(np.float64), level_rank * level_rank)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = cov / np.sqrt(var)[:, None] / np.sqrt(var)[None, :]
    return np.clip(tau, -1.0, 1.0), np.clip(rho, -1.0, 1.0)
