"""The JSON record of a summarised video: shots with times and scores, the selection, the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .io import SummaryWritten
from .pipeline import VideoSummary


def warnings_of(summary: VideoSummary, written: SummaryWritten | None) -> list[str]:
    """What did not decode: the video's problems (from the analysis), then the audio's (from writing)."""
    found = [summary.warning] if summary.warning else []
    if written is not None and written.audio is not None:
        found.extend(written.audio.problems())
    return found


def summary_record(summary: VideoSummary, settings: Mapping[str, Any],
                   summary_video: Path | None, written: SummaryWritten | None = None) -> dict[str, Any]:
    """A JSON-ready description of ``summary``; times in seconds from the frames' timestamps, shot ends inclusive.

    ``written`` describes the summary video when one was written (its size, how the audio decoded).
    """
    selected = set(summary.selected.tolist())
    problems = warnings_of(summary, written)
    spans = [summary.shot_span(i) for i in range(len(summary.shots))]
    return {
        "input": str(summary.info.path),
        "frames": summary.n_frames,
        "fps": summary.info.frame_rate,
        "width": summary.info.width,
        "height": summary.info.height,
        "rotation": summary.info.rotation,
        "duration_s": summary.duration,
        "warning": "; ".join(problems) or None,
        "decoding": {
            "video": summary.decoding.record() if summary.decoding is not None else None,
            "audio": written.audio.record() if written is not None and written.audio is not None else None,
        },
        "settings": dict(settings),
        "steps": {
            "frames": summary.sample_frames.tolist(),
            "times_s": summary.sample_times.tolist(),
            "scores": summary.step_scores.tolist(),
        },
        "shots": [
            {
                "index": index,
                "start_frame": int(start),
                "end_frame": int(end),
                "start_s": spans[index][0],
                "end_s": spans[index][1],
                "frames": int(end - start + 1),
                "score": float(score),
                "selected": index in selected,
            }
            for index, ((start, end), score) in enumerate(zip(summary.shots, summary.shot_scores))
        ],
        "selected_shots": sorted(selected),
        "summary": {
            "frames": int(summary.keep.sum()),
            "duration_s": sum(spans[i][1] - spans[i][0] for i in selected),
            "budget_frames": summary.budget,
            "video": summary_video.name if summary_video is not None else None,
            "width": written.width if written is not None else None,
            "height": written.height if written is not None else None,
        },
    }
