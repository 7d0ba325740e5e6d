"""Kernel temporal segmentation (KTS; Potapov et al., ECCV 2014), as CSTA uses it for new videos.

The original calls ``cpd_auto(X Xᵀ, n - 1, vmax)``: for every number of change points m it finds the
segmentation of the n frames that minimises the total within-segment scatter (kernel variance), then
picks m by minimising ``scatter_m / n + vmax·m/(2n)·(log(n/m) + 1)``.  :func:`boundaries` returns the
same change points (same float64 arithmetic, same tie-breaking), vectorised and with two savings:

* rows of the dynamic programme are computed only while a larger m can still win (the penalty grows
  with m and the scatter is never below the smallest segment scatter, so once the penalty alone
  exceeds the best cost found, no later m can be chosen);
* each row is a sequence of vectorised min-reductions over column blocks of the scatter table.

Sequences longer than ``exact_limit`` are segmented with a bounded approach (see
:func:`boundaries`): the same objective restricted to boundaries on a grid of ``s`` frames, then each
boundary refined locally at full resolution.

numpy only; no torch.
"""

from __future__ import annotations

import math

import numpy as np

EXACT_LIMIT = 3000
"""Longest sequence segmented exhaustively; longer ones use the grid-then-refine approach."""

_REFINE_SWEEPS = 10
_CACHE_ELEMENTS = 65536   # float64 elements per working block (512 KiB, within a core's L2 cache)
_MIN_BLOCK = 8            # fewest ends per block, to bound the Python overhead on long sequences
_ROW_GROUP = 8            # programme rows computed together per pass over the table


def boundaries(features, vmax: float = 1.0, exact_limit: int = EXACT_LIMIT, desc_rate: float = 1.0) -> np.ndarray:
    """Change points of the KTS segmentation of ``features`` (n, d), L2-normalised rows.

    Returns sorted frame indices ``0 < c_1 < … < c_m < n``; segment i covers ``[c_i, c_{i+1})``
    with ``c_0 = 0`` and ``c_{m+1} = n``.  For ``n <= exact_limit`` this is exactly the original's
    ``cpd_auto(X Xᵀ, n - 1, vmax)`` (O(n³) time in the worst case, 8·n² bytes of memory).

    For longer sequences the frames are grouped into ``ceil(n / exact_limit)``-frame blocks, the
    original objective (scatter of the frames, penalty with the true n) is minimised exactly over
    segmentations whose boundaries fall between blocks; then, at full resolution, every boundary is
    moved, one at a time, to the best position within one block on either side, and boundaries whose
    removal lowers the penalised objective are dropped, until neither move helps.  The result can
    differ from the exhaustive one: the grid optimum may have a different structure (a segment
    shorter than a block can be missed), the number of change points is chosen from grid-restricted
    scatters and then only lowered, and the refinement is local.

    ``desc_rate``: the features were taken every ``desc_rate`` frames; the penalty is computed for the
    length of the video before subsampling (``n × desc_rate``), as the original's
    ``cpd_auto(..., desc_rate)`` does, so that the number of shots does not grow with the sampling rate.
    """
    if not desc_rate > 0:
        raise ValueError(f"desc_rate must be positive, got {desc_rate}")
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be a 2-D (n, d) array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("features contain NaN or infinite values")
    if exact_limit < 2:
        raise ValueError(f"exact_limit must be at least 2, got {exact_limit}")
    n = x.shape[0]
    if n < 2:
        return np.zeros(0, dtype=np.int64)
    if n <= exact_limit:
        table = _frame_scatter_table(x)
        return _optimal_change_points(table, n, vmax, desc_rate=desc_rate)
    return _grid_then_refine(x, vmax, block=math.ceil(n / exact_limit), desc_rate=desc_rate)


def boundaries_to_shots(change_points, n_frames: int) -> np.ndarray:
    """Shots as an (S, 2) int array of inclusive ``[start, end]`` frames covering ``0 … n_frames-1``.

    ``change_points`` are the first frames of every shot but the first (as :func:`boundaries`
    returns them, scaled to frames when the features were sampled).
    """
    cps = np.asarray(change_points, dtype=np.int64).reshape(-1)
    if n_frames < 1:
        raise ValueError(f"n_frames must be positive, got {n_frames}")
    if cps.size and (cps[0] <= 0 or cps[-1] >= n_frames or np.any(np.diff(cps) <= 0)):
        raise ValueError(
            f"change points must be strictly increasing within 1..{n_frames - 1}, got {cps.tolist()}")
    starts = np.concatenate(([0], cps))
    ends = np.concatenate((cps, [n_frames])) - 1
    return np.stack((starts, ends), axis=1)


def penalties(n: int, vmax: float, desc_rate: float = 1.0) -> np.ndarray:
    """The original's penalty for 0 … n-1 change points of an n-frame sequence sampled every ``desc_rate``."""
    result = np.zeros(n)
    counts = np.arange(1, n)
    length = n * desc_rate
    with np.errstate(over="ignore"):                # a huge vmax: an infinite penalty, i.e. no change point
        result[1:] = (vmax * counts / (2.0 * length)) * (np.log(float(length) / counts) + 1)
    return result


def _frame_scatter_table(x: np.ndarray) -> np.ndarray:
    """Scatter of every frame segment, from the kernel X Xᵀ, with the original's operation order."""
    kernel = x @ x.T
    diag_prefix = np.cumsum(np.concatenate(([0.0], np.diag(kernel))))
    return _scatter_table(kernel, diag_prefix, np.arange(x.shape[0] + 1, dtype=np.float64))


def _scatter_table(kernel: np.ndarray, diag_prefix: np.ndarray, length_prefix: np.ndarray) -> np.ndarray:
    """``table[c, t]`` = scatter of units ``t..c`` (inclusive); ``+inf`` where ``t > c``.

    A unit is a frame (exact path) or a block of frames (grid path).  ``kernel`` holds the unit
    kernel (sums of frame kernels) and is overwritten with the table, so that one u×u buffer is the
    whole memory cost; ``diag_prefix`` are prefix sums of the squared norms and ``length_prefix`` the
    frame count before each unit.  Scatter = Σ‖x‖² − ‖Σx‖²/length, evaluated from the 2-D prefix
    sums in the same order as the original so that its float64 values, and hence its ties, are
    reproduced.  The table is end-major so that the dynamic programme reduces along contiguous rows.
    """
    units = kernel.shape[0]
    cumulative = kernel
    np.cumsum(cumulative, axis=0, out=cumulative)
    np.cumsum(cumulative, axis=1, out=cumulative)
    box_diag = np.concatenate(([0.0], np.diag(cumulative)))
    chunk = min(units, max(1, _CACHE_ELEMENTS // units))
    numerator_buffer = np.empty(chunk * units)
    work_buffer = np.empty(chunk * units)
    with np.errstate(invalid="ignore", divide="ignore"):  # empty segments (t > c) are masked below
        for first in range(0, units, chunk):
            last = min(first + chunk, units)
            shape = (last - first, last)
            # numerator[c, t] = box[c+1, c+1] + box[t, t] - box[c+1, t] - box[t, c+1], where box is
            # the prefix-sum table padded with a zero row and column (box[i, j] = cumulative[i-1, j-1]).
            numerator = numerator_buffer[:shape[0] * shape[1]].reshape(shape)
            work = work_buffer[:shape[0] * shape[1]].reshape(shape)
            np.add.outer(box_diag[first + 1:last + 1], box_diag[:last], out=numerator)
            numerator[:, 1:] -= cumulative[first:last, :last - 1]
            numerator[:, 1:] -= cumulative[:last - 1, first:last].T
            np.subtract.outer(length_prefix[first + 1:last + 1], length_prefix[:last], out=work)
            numerator /= work
            np.subtract.outer(diag_prefix[first + 1:last + 1], diag_prefix[:last], out=work)
            work -= numerator
            cumulative[first:last, :last] = work
    table = cumulative
    for end in range(units - 1):
        table[end, end + 1:] = np.inf
    return table


def _optimal_change_points(table: np.ndarray, n_frames: int, vmax: float,
                           unit_starts: np.ndarray | None = None, desc_rate: float = 1.0) -> np.ndarray:
    """Run the KTS dynamic programme on a scatter table and return the selected change points.

    ``cost[k][c]`` is the least scatter of units ``0..c`` split by k change points; row k is
    ``min over t of table[c, t] + cost[k-1][t-1]`` (first minimum wins, as in the original).
    Rows stop once no larger k can beat the best penalised cost: every later cost is at least its
    penalty (non-decreasing in k) plus the scatter of at most n segments, each no lower than the
    table's minimum.  ``unit_starts`` maps unit indices to frames (the grid path).
    """
    units = table.shape[0]
    penalty = penalties(n_frames, vmax, desc_rate)
    slack = 2.0 * min(0.0, float(table.min()))
    previous = table[:, 0].copy()
    scores = [previous[-1]]
    best_cost = scores[0] / float(n_frames) + penalty[0]
    pointers: list[np.ndarray] = []
    buffer = np.empty(min(units, max(_MIN_BLOCK, _CACHE_ELEMENTS // units)) * units)
    k = 1
    while k < units:
        group = min(_ROW_GROUP, units - k)
        values, group_pointers = _dp_rows(table, previous, k, group, buffer)
        for offset in range(group):
            if penalty[k + offset] + slack > best_cost + 1e-9 * abs(best_cost):
                break
            pointers.append(group_pointers[offset])
            scores.append(values[offset, -1])
            best_cost = min(best_cost, values[offset, -1] / float(n_frames) + penalty[k + offset])
        else:
            previous = values[-1]
            k += group
            continue
        break
    costs = np.asarray(scores) / float(n_frames) + penalty[:len(scores)]
    count = int(np.argmin(costs))
    change_points = np.zeros(count, dtype=np.int64)
    end = units
    for k in range(count, 0, -1):
        end = int(pointers[k - 1][end - 1 - k])
        change_points[k - 1] = end
    if unit_starts is not None:
        change_points = unit_starts[change_points]
    return change_points


def _dp_rows(table: np.ndarray, previous: np.ndarray, k0: int, count: int, buffer: np.ndarray):
    """Rows ``k0 … k0+count-1`` of the programme, block by block over the ends.

    Within one block of ends every row reads the same slice of the table, so the rows are computed
    together while that slice is in cache; the arithmetic is the same as row after row.  ``buffer``
    is scratch space reused across calls (fresh pages are slow to fault in).
    Returns the rows' costs (count, units) and, per row, the argmin start for every end ``c >= k``.
    """
    units = table.shape[0]
    values = np.full((count + 1, units), np.inf)
    values[0] = previous
    pointers = [np.empty(units - (k0 + g), dtype=np.int32) for g in range(count)]
    width = min(buffer.size // (units - k0), units - k0)
    row_index = np.arange(width)
    for first in range(k0, units, width):
        last = min(first + width, units)
        for g in range(count):
            k = k0 + g
            start = max(first, k)
            if start >= last:
                break
            rows = last - start
            candidates = buffer[:rows * (last - k)].reshape(rows, last - k)
            np.add(table[start:last, k:last], values[g, k - 1:last - 1], out=candidates)
            arg = candidates.argmin(axis=1)
            values[g + 1, start:last] = candidates[row_index[:rows], arg]
            pointers[g][start - k:last - k] = arg + k
    return values[1:], pointers


def _grid_then_refine(x: np.ndarray, vmax: float, block: int, desc_rate: float = 1.0) -> np.ndarray:
    n = x.shape[0]
    unit_starts = np.arange(0, n + block, block)
    unit_starts[-1] = n
    unit_starts = np.unique(unit_starts)
    sums = np.add.reduceat(x, unit_starts[:-1], axis=0)
    squared = np.add.reduceat(np.einsum("ij,ij->i", x, x), unit_starts[:-1])
    table = _scatter_table(sums @ sums.T, np.concatenate(([0.0], np.cumsum(squared))),
                           unit_starts.astype(np.float64))
    coarse = _optimal_change_points(table, n, vmax, unit_starts=unit_starts, desc_rate=desc_rate)
    del table
    return _local_search(x, coarse, radius=block, vmax=vmax, desc_rate=desc_rate)


def _local_search(x: np.ndarray, change_points: np.ndarray, radius: int, vmax: float,
                  desc_rate: float = 1.0) -> np.ndarray:
    """Improve grid change points at full resolution on the original's penalised objective.

    Alternates two moves until neither helps: shift each boundary, one at a time, within ±radius
    frames to where its two segments scatter least; drop boundaries whose removal lowers
    ``scatter / n + penalty(m)`` (a scene change inside a block can make the grid isolate that
    block with two boundaries; once one of them sits on the change, the other is redundant).
    """
    n = x.shape[0]
    prefix = np.zeros((n + 1, x.shape[1]))
    np.cumsum(x, axis=0, out=prefix[1:])
    norms = np.concatenate(([0.0], np.cumsum(np.einsum("ij,ij->i", x, x))))
    penalty = penalties(n, vmax, desc_rate)

    def scatter(starts, stops):
        sums = prefix[stops] - prefix[starts]
        return (norms[stops] - norms[starts]) - np.einsum("ij,ij->i", sums, sums) / (stops - starts)

    def shift_each(cps):
        for _ in range(_REFINE_SWEEPS):
            moved = False
            for i in range(len(cps)):
                left = cps[i - 1] if i > 0 else 0
                right = cps[i + 1] if i + 1 < len(cps) else n
                options = np.arange(max(left + 1, cps[i] - radius), min(right - 1, cps[i] + radius) + 1)
                costs = scatter(np.full(len(options), left), options) + \
                    scatter(options, np.full(len(options), right))
                best = int(np.argmin(costs))
                if costs[best] < costs[options == cps[i]][0]:
                    cps[i] = options[best]
                    moved = True
            if not moved:
                return cps
        return cps

    def drop_redundant(cps):
        dropped = False
        while len(cps):
            edges = np.concatenate(([0], cps, [n]))
            left, middle, right = edges[:-2], edges[1:-1], edges[2:]
            added_scatter = scatter(left, right) - scatter(left, middle) - scatter(middle, right)
            change = added_scatter / float(n) + (penalty[len(cps) - 1] - penalty[len(cps)])
            # Drop every boundary that helps and helps more than its neighbours: no two are adjacent,
            # so their scatter changes add up, and the penalty falls at least as fast as assumed.
            before = np.concatenate(([np.inf], change[:-1]))
            after = np.concatenate((change[1:], [np.inf]))
            drop = (change < 0) & (change <= before) & (change < after)
            if not drop.any():
                break
            cps = cps[~drop]
            dropped = True
        return cps, dropped

    cps = change_points.copy()
    while True:
        cps = shift_each(cps)
        cps, dropped = drop_redundant(cps)
        if not dropped:
            return cps
