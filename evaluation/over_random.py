"""Performance over Random (Apostolidis, Adamantidou, Metsai, Mezaris, Patras, ACM MM 2020).

A split's F1 depends on how hard its test videos are: the paper shows that even a random summarizer's
F1 varies widely across splits, so unnormalised F1 of methods evaluated on different splits cannot be
compared. Performance over Random divides each split's F1 by the F1 a random summarizer gets on the
same split, in percent (100: no better than random), and averages over the splits:

    PoR_split = 100 * F1_method(split) / F1_random(split),    PoR = mean over splits.

The random summarizer here is the project's random-scores baseline: uniform random importance scores
through the same keyshot selection (the mean over several draws per video).
"""

from __future__ import annotations

from typing import Mapping, Sequence

__all__ = ["performance_over_random"]


def performance_over_random(method_f1: Mapping[str, float] | Sequence[float],
                            random_f1: Mapping[str, float] | Sequence[float]) -> dict:
    """``{"per_split": {split: PoR}, "mean": PoR}`` from the method's and the random summarizer's F1 per split.

    Both arguments are keyed (or ordered) by split; a split where the random F1 is 0 has no PoR (None)
    and is left out of the mean.
    """
    method = dict(method_f1) if isinstance(method_f1, Mapping) else dict(enumerate(method_f1, start=1))
    random = dict(random_f1) if isinstance(random_f1, Mapping) else dict(enumerate(random_f1, start=1))
    if set(method) != set(random):
        raise ValueError(f"performance over random needs the same splits, got {sorted(method)} and {sorted(random)}")
    per_split = {split: (100.0 * method[split] / random[split] if random[split] > 0 else None) for split in method}
    defined = [value for value in per_split.values() if value is not None]
    return {"per_split": per_split, "mean": sum(defined) / len(defined) if defined else None}
