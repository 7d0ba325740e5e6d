"""Summarising your own videos with CSTA: decoding and encoding (PyAV), GoogLeNet features, scoring,
the per-video pipeline and its outputs.  ``summarize.py`` is the command line; see docs/summarize.md.

The names below are imported on first use, so that ``video.cli`` (the command lines' parser) loads
without PyAV, numpy or PyTorch and ``--help`` or a bad option answers at once.
"""

from importlib import import_module

_EXPORTS = {
    "VIDEO_EXTENSIONS": "io",
    "VideoError": "io",
    "VideoInfo": "io",
    "FrameReader": "io",
    "probe": "io",
    "write_summary": "io",
    "STAGES": "pipeline",
    "StageTimes": "pipeline",
    "VideoSummary": "pipeline",
    "analyse": "pipeline",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'video' has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
