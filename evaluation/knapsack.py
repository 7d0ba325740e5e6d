"""Exact 0/1 knapsack used to pick the keyshots of a summary.

The dynamic programme is the textbook one (items in order, one table row per
item, one column per unit of capacity), evaluated one row at a time with numpy
over the whole capacity axis.  What makes it reproduce the original CSTA choice
*exactly* — including on ties — is the way the selection is read back:

* a cell keeps the value of "not taking" item ``i`` unless taking it gives a
  strictly larger total (Python's ``max(take, skip)`` returns ``take`` unless
  ``skip > take``; both give the same number, so only the value matters);
* walking back from the last item with the full capacity, item ``i`` is
  selected exactly when its row differs from the previous row at the current
  capacity.  When taking and skipping an item lead to the same best value the
  item is therefore *not* taken, and the walk continues at the same capacity.

The sums are formed in the same order as the original (``value + best of the
previous row at the reduced capacity``) in float64, so equal totals compare
equal bit for bit, just as they do in the pure-Python original.  Column 0 is
pinned to zero, as in the original, even for a zero-weight item.
"""

from __future__ import annotations

import numpy as np

__all__ = ["knapsack"]


def knapsack(values, weights, capacity) -> np.ndarray:
    """Return the sorted indices of the items chosen by the exact 0/1 knapsack.

    Parameters
    ----------
    values:
        One finite value per item (e.g. the mean importance of a shot).
    weights:
        One non-negative integer weight per item (e.g. the shot length in frames).
    capacity:
        Non-negative integer budget (e.g. 15% of the frames).

    Returns
    -------
    numpy.ndarray of int64
        Indices of the selected items, ascending.  The choice is the one the
        original CSTA/PGL-SUM ``knapSack`` makes, ties included.

    Cost is O(n_items * capacity) time with one numpy operation per item, and
    n_items * (capacity + 1) bits of memory for the read-back.
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    weights_arr = np.asarray(weights)
    if weights_arr.size and not np.issubdtype(weights_arr.dtype, np.integer):
        as_int = weights_arr.astype(np.int64)
        if not np.array_equal(as_int, weights_arr):
            raise ValueError("knapsack weights must be integers")
        weights_arr = as_int
    weights_arr = weights_arr.astype(np.int64).reshape(-1)
    if values.shape != weights_arr.shape:
        raise ValueError(
            f"knapsack needs one weight per value, got {values.size} values "
            f"and {weights_arr.size} weights"
        )
    if np.any(weights_arr < 0):
        raise ValueError("knapsack weights must be non-negative")
    if not np.all(np.isfinite(values)):
        raise ValueError("knapsack values must be finite numbers (no NaN or inf)")
    capacity = int(capacity)
    if capacity < 0:
        raise ValueError(f"knapsack capacity must be non-negative, got {capacity}")

    n = values.size
    if n == 0 or capacity == 0:
        return np.zeros(0, dtype=np.int64)

    width = capacity + 1
    prev = np.zeros(width, dtype=np.float64)
    cur = np.empty(width, dtype=np.float64)
    # changed[i, w]: best value with items[:i+1] differs from items[:i] at w.
    changed = np.zeros((n, width), dtype=bool)
    for i in range(n):
        w_i = int(weights_arr[i])
        cur[:] = prev
        if w_i <= capacity:
            lo = max(w_i, 1)  # column 0 stays 0 whatever the item
            take = values[i] + prev[lo - w_i: width - w_i]
            skip = prev[lo:]
            # Python's max(take, skip): ``take`` unless ``skip`` is strictly larger.
            cur[lo:] = np.where(skip > take, skip, take)
            np.not_equal(cur, prev, out=changed[i])
        prev, cur = cur, prev

    selected = []
    w = capacity
    for i in range(n - 1, -1, -1):
        if changed[i, w]:
            selected.append(i)
            w -= int(weights_arr[i])
    return np.asarray(selected[::-1], dtype=np.int64)
