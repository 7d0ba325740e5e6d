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


def whole_number(text: str) -> int:
    """An argparse type: an integer >= 0 (argparse names the option when it is not)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def write_and_list(make) -> int:
    """A generator command's body: print every file ``make()`` wrote; a bad value or a failed write is one
    ``error:`` line and exit status 2."""
    from storage.stopping import run_until_stopped

    return run_until_stopped(lambda: _write_and_list(make), "each file written so far is whole; run the command "
                                                            "again to write the set")


def _write_and_list(make) -> int:
    import sys

    from storage.files import describe_write_error

    try:
        paths = list(make())
    except OSError as error:
        print(f"error: {describe_write_error(error)}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'demo' has no attribute {name!r}")
