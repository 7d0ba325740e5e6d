"""The JSON record of a summarised video: shots with times and scores, the selection, the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .pipeline import VideoSummary


def summary_record(summary: VideoSummary, settings: Mapping[str, Any],
                   summary_video: Path | None) -> dict[str, Any]:
    """A JSON-ready description of ``summary``; times in seconds from the frames' timestamps, shot ends inclusive."""
    selected = set(summary.selected.tolist())
    spans = [summary.shot_span(i) for i in range(len(summary.shots))]
    return {
        "input": str(summary.info.path),
        "frames": summary.n_frames,
        "fps": summary.info.frame_rate,
        "width": summary.info.width,
        "height": summary.info.height,
        "rotation": summary.info.rotation,
        "duration_s": summary.duration,
        "warning": summary.warning,
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
        },
    }
