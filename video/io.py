"""Reading and writing videos with PyAV (FFmpeg).

Frames are decoded once, in order, and counted; a file that cannot be opened, has no video stream, or
stops well before the frame count its container declares is a :class:`VideoError` naming the file.
Summaries are written to a temporary file next to the target and renamed into place at the end.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import av
import numpy as np
from av.video.frame import PictureType

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov")

_MISSING_FRAMES_TOLERATED = 0.01
"""Share of the declared frame count that may be missing before a file counts as truncated
(containers round their counts; edit lists can hide a frame or two)."""


class VideoError(Exception):
    """A file that cannot be used as a video; the message names the file and the reason."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video's main stream."""

    path: Path
    fps: Fraction
    width: int
    height: int
    declared_frames: int | None
    """Frame count from the container (its index, or duration × frame rate), None when unknown."""

    @property
    def frame_rate(self) -> float:
        return float(self.fps)


def probe(path) -> VideoInfo:
    """Open ``path`` and describe its first video stream, or raise :class:`VideoError`."""
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if path.is_dir():
        raise VideoError(f"{path}: is a folder, not a video file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: file is empty")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            fps = stream.average_rate or stream.guessed_rate or stream.base_rate
            if not fps:
                raise VideoError(f"{path}: frame rate unknown")
            width, height = stream.codec_context.width, stream.codec_context.height
            if not width or not height:
                raise VideoError(f"{path}: frame size unknown")
            declared = stream.frames or None
            if declared is None and container.duration:
                declared = round(container.duration / av.time_base * float(fps)) or None
            return VideoInfo(path, Fraction(fps), int(width), int(height), declared)
    except av.FFmpegError as error:
        raise VideoError(f"{path}: not a readable video ({_reason(error)})") from error


def iter_frames(info: VideoInfo) -> Iterator[av.VideoFrame]:
    """Every frame of the video, in decoding order; raises :class:`VideoError` on damaged data.

    The whole file is decoded: a file that ends early (fewer frames than its container declares,
    beyond rounding) is reported as truncated once the last frame has been read.
    """
    count = 0
    try:
        with av.open(str(info.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                count += 1
                yield frame
    except av.FFmpegError as error:
        raise VideoError(f"{info.path}: damaged or truncated after {count} frames ({_reason(error)})") from error
    if count == 0:
        raise VideoError(f"{info.path}: contains no decodable frames")
    if info.declared_frames and count < info.declared_frames * (1 - _MISSING_FRAMES_TOLERATED) - 1:
        raise VideoError(f"{info.path}: truncated, decoded {count} of the {info.declared_frames} frames "
                         f"its container declares")


def encoder_for(width: int, height: int) -> tuple[str, str]:
    """(codec, pixel format) for an MP4 of this size: H.264 when available, else MPEG-4 Part 2.

    4:2:0 chroma needs even dimensions; odd sizes keep their size with H.264 in 4:4:4.
    """
    even = width % 2 == 0 and height % 2 == 0
    if "libx264" in av.codecs_available:
        return "libx264", "yuv420p" if even else "yuv444p"
    if even:
        return "mpeg4", "yuv420p"
    raise VideoError(f"no encoder available here for an odd frame size {width}×{height} "
                     f"(needs FFmpeg with libx264)")


def write_selected_frames(info: VideoInfo, target: Path, keep: np.ndarray,
                          on_frame: Callable[[], None] | None = None) -> int:
    """Re-decode ``info.path`` and encode the frames where ``keep`` is true into the MP4 ``target``.

    Same frame rate and size as the source; no audio.  Written to a temporary file in the target's
    folder and renamed when complete, so an interrupted run never leaves a partial summary behind.
    ``on_frame`` is called once per decoded source frame (for progress bars).  Returns the number of
    frames written.
    """
    target = Path(target)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    codec, pixel_format = encoder_for(info.width, info.height)
    written = 0
    try:
        with av.open(str(temporary), "w", format="mp4") as output:
            stream = output.add_stream(codec, rate=info.fps)
            stream.width, stream.height, stream.pix_fmt = info.width, info.height, pixel_format
            frame_period = 1 / info.fps
            stream.codec_context.time_base = frame_period
            if codec == "libx264":
                stream.options = {"crf": "18", "preset": "fast"}
            else:
                stream.bit_rate = 8 * info.width * info.height * max(1, round(info.frame_rate))
            for index, frame in enumerate(iter_frames(info)):
                if on_frame is not None:
                    on_frame()
                if index >= len(keep) or not keep[index]:
                    continue
                frame.pts = written
                frame.time_base = frame_period
                frame.pict_type = PictureType.NONE  # let the encoder choose frame types
                output.mux(stream.encode(frame))
                written += 1
            output.mux(stream.encode(None))
        expected = int(np.count_nonzero(keep))
        if written != expected:
            raise VideoError(f"{info.path}: decoded differently on the second pass "
                             f"({written} of {expected} summary frames found)")
        os.replace(temporary, target)
    finally:
        if temporary.exists():
            temporary.unlink()
    return written


def _reason(error: av.FFmpegError) -> str:
    return getattr(error, "strerror", None) or str(error)
