"""Reading and writing videos with PyAV (FFmpeg): timestamps, rotation, audio, playable output.

* Every frame carries its presentation time (seconds from the first frame), so variable-frame-rate
  sources keep their timing in what is reported and written.
* A source flagged as rotated (its display matrix) is turned upright: frames are read in the
  orientation a player shows them, and the summary is written upright.
* A file that stops decoding early (truncated, damaged) gives the frames before the damage and a
  warning; only a file with no decodable frame is an error.
* Summaries are H.264 in 4:2:0 (yuv420p; odd sizes are scaled by one pixel to even), with the moov
  atom first (``+faststart``), and the source's audio over the same time ranges, re-encoded as AAC.
  They are written to a temporary file beside the target and renamed at the end.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, Sequence

import av
import numpy as np
from av.video.frame import PictureType

#: Names summarize.py looks for first in folders; any other file PyAV opens as video is taken too.
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".ts", ".3gp", ".wmv",
                    ".flv", ".ogv")


class VideoError(Exception):
    """A file that cannot be used as a video; the message names the file and the reason."""


class PartialVideoWarning(UserWarning):
    """A video that stopped decoding before its end: the frames before the damage are used."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video's main stream (sizes in the orientation a player shows)."""

    path: Path
    fps: Fraction
    """Average frame rate (for reporting; times come from the frames' timestamps)."""
    width: int
    height: int
    rotation: int
    """Degrees the stored frames are turned counterclockwise to be shown upright (a multiple of 90)."""
    declared_frames: int | None
    has_audio: bool

    @property
    def frame_rate(self) -> float:
        return float(self.fps)


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its index from 0, its time in seconds from the first frame, and the picture."""

    index: int
    time: float
    pts: int | None
    picture: av.VideoFrame


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
            rotation = 0
            try:
                first = next(container.decode(stream), None)
                rotation = _right_angle(first.rotation) if first is not None else 0
            except av.FFmpegError:
                pass
            if rotation % 180:
                width, height = height, width
            return VideoInfo(path, Fraction(fps), int(width), int(height), rotation, declared,
                             bool(container.streams.audio))
    except av.FFmpegError as error:
        raise VideoError(f"{path}: not a readable video ({_reason(error)})") from error


def _right_angle(degrees) -> int:
    return int(round((degrees or 0) / 90.0)) * 90 % 360


def upright(array: np.ndarray, rotation: int) -> np.ndarray:
    """An (H, W, C) picture turned as the display matrix says (counterclockwise by ``rotation``)."""
    return np.ascontiguousarray(np.rot90(array, k=rotation // 90)) if rotation else array


def picture_array(frame: av.VideoFrame, rotation: int, size: tuple[int, int] | None = None,
                  pixel_format: str = "rgb24") -> np.ndarray:
    """The frame as an upright uint8 array, scaled first (by FFmpeg) to ``size`` = (width, height) upright."""
    if size is not None:
        width, height = size if rotation % 180 == 0 else size[::-1]
        frame = frame.reformat(width=width, height=height, format=pixel_format, interpolation="BILINEAR")
    return upright(frame.to_ndarray(format=pixel_format), rotation)


class FrameReader:
    """Every frame of a video in presentation order, with its time; stops at damage with a warning.

    After iteration, ``frames`` is the number read and ``warning`` says why it ended early (or None).
    """

    def __init__(self, info: VideoInfo):
        self.info = info
        self.frames = 0
        self.warning: str | None = None

    def __iter__(self) -> Iterator[Frame]:
        info = self.info
        first_time = None
        try:
            with av.open(str(info.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                fallback = 1 / info.fps
                for picture in container.decode(stream):
                    if picture.time is not None:
                        if first_time is None:
                            first_time = picture.time
                        time = picture.time - first_time
                    else:
                        time = float(self.frames * fallback)
                    yield Frame(self.frames, time, picture.pts, picture)
                    self.frames += 1
        except av.FFmpegError as error:
            if self.frames == 0:
                raise VideoError(f"{info.path}: no decodable frame ({_reason(error)})") from error
            self.warning = f"damaged or truncated after {self.frames} frames ({_reason(error)})"
        if self.frames == 0:
            raise VideoError(f"{info.path}: contains no decodable frames")
        if self.warning is None and info.declared_frames and self.frames < info.declared_frames * 0.99 - 1:
            self.warning = f"ends after {self.frames} of the {info.declared_frames} frames its container declares"
        if self.warning is not None:
            warnings.warn(f"{info.path}: {self.warning}; summarising the frames that decode", PartialVideoWarning,
                          stacklevel=2)


@dataclass(frozen=True)
class Segment:
    """Frames ``first..last`` of the source (indices from 0) and their time span ``[start, end)`` in seconds."""

    first: int
    last: int
    start: float
    end: float


def even_size(width: int, height: int) -> tuple[int, int]:
    """The size 4:2:0 chroma allows: odd dimensions grow by one pixel."""
    return width + width % 2, height + height % 2


def write_summary(info: VideoInfo, target: Path, segments: Sequence[Segment],
                  on_frame: Callable[[], None] | None = None) -> int:
    """Encode the frames of ``segments`` (in order) into the MP4 ``target``, with the source's audio.

    Frames are turned upright and scaled to an even size by the encoder's converter (to yuv420p).
    Each frame keeps its duration (its timestamps shifted so the segments follow each other), so a
    variable-frame-rate source plays at its own speed; the audio of the same time spans follows.
    Returns the number of video frames written.
    """
    target = Path(target)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    width, height = even_size(info.width, info.height)
    wanted = np.zeros(max(s.last for s in segments) + 1, dtype=np.int32) - 1
    for number, segment in enumerate(segments):
        wanted[segment.first: segment.last + 1] = number
    offsets = np.concatenate(([0.0], np.cumsum([s.end - s.start for s in segments])))
    time_base = Fraction(1, 90000)
    written = 0
    try:
        with av.open(str(temporary), "w", format="mp4", options={"movflags": "+faststart"}) as output:
            video = output.add_stream("libx264", rate=info.fps)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.codec_context.time_base = time_base
            video.options = {"crf": "18", "preset": "fast"}
            audio = _add_audio_stream(info, output) if info.has_audio else None     # every stream before muxing
            last_pts = -1
            reader = FrameReader(info)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PartialVideoWarning)
                for frame in reader:
                    if on_frame is not None:
                        on_frame()
                    if frame.index >= len(wanted):          # past the last summary frame
                        break
                    if wanted[frame.index] < 0:
                        continue
                    segment = segments[wanted[frame.index]]
                    out_time = offsets[wanted[frame.index]] + (frame.time - segment.start)
                    pts = max(last_pts + 1, int(round(out_time / time_base)))
                    picture = frame.picture
                    if info.rotation:
                        picture = av.VideoFrame.from_ndarray(picture_array(picture, info.rotation), format="rgb24")
                    picture.pict_type = PictureType.NONE          # the encoder chooses the frame types
                    picture.pts, picture.time_base = pts, time_base
                    last_pts = pts
                    output.mux(video.encode(picture))
                    written += 1
            output.mux(video.encode(None))
            if audio is not None:
                _write_audio(info, output, audio, segments)
        expected = int(sum(s.last - s.first + 1 for s in segments))
        if written != expected:
            raise VideoError(f"{info.path}: decoded differently on the second pass "
                             f"({written} of {expected} summary frames found)")
        os.replace(temporary, target)
    finally:
        if temporary.exists():
            temporary.unlink()
    return written


def _add_audio_stream(info: VideoInfo, output):
    """An AAC stream for the source's first audio track (mono stays mono, more channels become stereo)."""
    with av.open(str(info.path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or stream.rate
        if not rate:
            return None
        layout = "mono" if (stream.codec_context.channels or 2) == 1 else "stereo"
    audio = output.add_stream("aac", rate=rate, layout=layout)
    audio.codec_context.time_base = Fraction(1, rate)
    return audio


def _write_audio(info: VideoInfo, output, audio, segments: Sequence[Segment]) -> None:
    """The source's audio over the segments' time spans, concatenated, as AAC."""
    rate = audio.codec_context.sample_rate
    layout = audio.codec_context.layout.name
    with av.open(str(info.path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        video_start = _video_start(info)
        spans = [(int(round(s.start * rate)), int(round(s.end * rate))) for s in segments]
        fifo = av.AudioFifo()
        position = None
        try:
            for packet_frame in container.decode(stream):
                for frame in resampler.resample(packet_frame):
                    samples = frame.to_ndarray()
                    if frame.time is not None:                  # else: continue from the previous frame
                        position = int(round((frame.time - video_start) * rate))
                    elif position is None:
                        position = 0
                    first, count = position, samples.shape[1]
                    position += count
                    for low, high in spans:
                        a, b = max(low, first), min(high, first + count)
                        if a < b:
                            piece = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, a - first: b - first]),
                                                               format="fltp", layout=layout)
                            piece.sample_rate = rate
                            piece.pts = None
                            fifo.write(piece)
        except av.FFmpegError:
            pass                                    # damaged audio: keep what decoded
        written = 0
        frame_size = audio.codec_context.frame_size or 1024
        while fifo.samples:
            chunk = fifo.read(min(frame_size, fifo.samples), partial=True)
            if chunk is None:
                break
            chunk.pts, chunk.time_base = written, Fraction(1, rate)
            written += chunk.samples
            output.mux(audio.encode(chunk))
        output.mux(audio.encode(None))


def _video_start(info: VideoInfo) -> float:
    """Presentation time of the first video frame (audio times are measured from it)."""
    with av.open(str(info.path)) as container:
        stream = container.streams.video[0]
        for picture in container.decode(stream):
            return float(picture.time or 0.0)
    return 0.0


def _reason(error: av.FFmpegError) -> str:
    return getattr(error, "strerror", None) or str(error)
