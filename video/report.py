"""The JSON record of a summarised video: shots with times and scores, the selection, the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .pipeline import VideoSummary


def summary_record(summary: VideoSummary, settings: Mapping[str, Any],
                   summary_video: Path | None) -> dict[str, Any]:
    """A JSON-ready description of ``summary``; times in seconds, shot ends inclusive."""
    fps = summary.info.frame_rate
    selected = set(summary.selected.tolist())
    kept = int(summary.keep.sum())
    return {
        "input": str(summary.info.path),
        "frames": summary.n_frames,
        "fps": fps,
        "width": summary.info.width,
        "height": summary.info.height,
        "duration_s": summary.n_frames / fps,
        "settings": dict(settings),
        "steps": {
            "frames": summary.sample_frames.tolist(),
            "times_s": (summary.sample_frames / fps).tolist(),
            "scores": summary.step_scores.tolist(),
        },
        "shots": [
            {
                "index": index,
                "start_frame": int(start),
                "end_frame": int(end),
                "start_s": start / fps,
                "end_s": (end + 1) / fps,
                "frames": int(end - start + 1),
                "score": float(score),
                "selected": index in selected,
            }
            for index, ((start, end), score) in enumerate(zip(summary.shots, summary.shot_scores))
        ],
        "selected_shots": sorted(selected),
        "summary": {
            "frames": kept,
            "duration_s": kept / fps,
            "budget_frames": summary.budget,
            "video": summary_video.name if summary_video is not None else None,
        },
    }
