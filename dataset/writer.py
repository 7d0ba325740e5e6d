"""Writing videos in the eccv16 layout (the demo data, datasets built from your own videos)."""
from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping, Optional, Union

import h5py
import numpy as np

from .records import VideoRecord


def write_eccv16(target, videos: Iterable[Union[Mapping, VideoRecord]], *, attrs: Optional[Mapping] = None,
                 text_encoding: str = "utf-8") -> None:
    """Write videos as the groups of an eccv16 h5 file, the layout :func:`load_h5` reads.

    target: a path or a binary file object (a new file is written there), or an open ``h5py.Group``
        that the video groups are added to.
    videos: per video a mapping (or a :class:`VideoRecord`) with ``key``, ``features``, ``gtscore``,
        ``gtsummary``, ``change_points``, ``n_frames``, ``picks``, ``user_summary`` and ``video_name``;
        ``features``, ``gtscore``, ``gtsummary`` and ``video_name`` are left out when None. ``n_steps`` and
        ``n_frame_per_seg`` are derived from ``picks`` and ``change_points``.
    attrs: attributes of the file itself (a path or file object only).
    text_encoding: the string type of ``video_name``, 'utf-8' or 'ascii'.

    Arrays are stored as the eccv16 files hold them: float32 features, scores and summaries, int64
    shots, frame indices and counts.
    """
    if isinstance(target, h5py.Group):
        if attrs:
            raise ValueError("attrs: set a group's attributes on the group itself")
        _write_eccv16_groups(target, videos, text_encoding)
        return
    with h5py.File(target, "w") as h5:
        for name, value in (attrs or {}).items():
            h5.attrs[name] = value
        _write_eccv16_groups(h5, videos, text_encoding)


def _write_eccv16_groups(h5: h5py.Group, videos, text_encoding: str) -> None:
    for video in videos:
        fields = video if isinstance(video, Mapping) else {f.name: getattr(video, f.name)
                                                          for f in dataclasses.fields(video)}
        change_points = np.asarray(fields["change_points"], dtype=np.int64)
        picks = np.asarray(fields["picks"], dtype=np.int64)
        group = h5.create_group(fields["key"])
        if fields.get("features") is not None:
            group.create_dataset("features", data=np.asarray(fields["features"], dtype=np.float32))
        if fields.get("gtscore") is not None:
            group.create_dataset("gtscore", data=np.asarray(fields["gtscore"], dtype=np.float32))
        if fields.get("gtsummary") is not None:
            group.create_dataset("gtsummary", data=np.asarray(fields["gtsummary"], dtype=np.float32))
        group.create_dataset("change_points", data=change_points)
        group.create_dataset("n_frame_per_seg", data=change_points[:, 1] - change_points[:, 0] + 1)
        group.create_dataset("n_frames", data=np.int64(fields["n_frames"]))
        group.create_dataset("n_steps", data=np.int64(len(picks)))
        group.create_dataset("picks", data=picks)
        group.create_dataset("user_summary", data=np.asarray(fields["user_summary"], dtype=np.float32))
        if fields.get("video_name") is not None:
            group.create_dataset("video_name", data=fields["video_name"], dtype=h5py.string_dtype(text_encoding))


