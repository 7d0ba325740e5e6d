"""Training and scoring CSTA split by split, as the original protocol does, on one process or many.

The names below are imported on first use, so that ``training.sources`` (the command lines' options)
loads without PyTorch and ``--help`` answers at once.
"""

import importlib

_EXPORTS = {
    "DatasetBundle": "data", "load_bundle": "data",
    "SplitOutcome": "loop", "epoch_order": "loop", "initial_state": "loop", "train_split": "loop",
    "score_split": "scoring",
    "library_versions": "reproducibility", "seed_everything": "reproducibility",
    "SELECTION_RULES": "selection", "EpochMetrics": "selection",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'training' has no attribute {name!r}")
