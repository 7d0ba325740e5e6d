"""Summarising your own videos with CSTA: decoding and encoding (PyAV), GoogLeNet features, scoring,
the per-video pipeline and its outputs.  ``summarize.py`` is the command line; see docs/summarize.md.
"""

from .io import VIDEO_EXTENSIONS, FrameReader, VideoError, VideoInfo, probe, write_summary
from .pipeline import STAGES, StageTimes, VideoSummary, analyse

__all__ = [
    "VIDEO_EXTENSIONS",
    "VideoError",
    "VideoInfo",
    "FrameReader",
    "probe",
    "write_summary",
    "STAGES",
    "StageTimes",
    "VideoSummary",
    "analyse",
]
