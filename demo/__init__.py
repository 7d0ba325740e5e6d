"""Generated datasets in the exact schemas of the real ones, for ``--demo`` runs, the tests and the benchmarks.

``demo.eccv16``: SumMe- and TVSum-like eccv16 files with their splits and TVSum-format annotations
(``python -m demo.eccv16 [OUT_DIR]``); ``demo.mrhisum``: a file in Mr.HiSum's h5 schema with its split
file (``python -m demo.mrhisum OUT_DIR``). Neither imports torch.

The names below are imported on first use, so that ``python -m demo.eccv16`` and ``python -m demo.mrhisum``
run their module once.
"""

import importlib

_EXPORTS = {
    "DemoParameters": "eccv16", "DemoPaths": "eccv16", "demo_paths": "eccv16", "ensure_demo_dataset": "eccv16",
    "make_demo_dataset": "eccv16",
    "make_mrhisum_like": "mrhisum",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'demo' has no attribute {name!r}")
