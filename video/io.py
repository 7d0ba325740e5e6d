"""Reading and writing videos with PyAV (FFmpeg): timestamps, rotation, audio, playable output.

* Every frame carries its presentation time (seconds from the first frame), so variable-frame-rate
  sources keep their timing in what is reported and written.
* A source flagged as rotated (its display matrix) is turned upright: frames are read in the
  orientation a player shows them, and the summary is written upright.
* Streams are decoded as players decode them, packet by packet: a packet that does not decode
  (damaged data) is skipped and counted, and decoding goes on with the next one. A file that stops
  reading early (truncated) gives the frames before the end. Either way a warning says how much was
  lost; only a file with no decodable frame is an error.
* Frames above :data:`MAX_PIXELS` are refused; below it, memory stays bounded by the frame size:
  fewer decoder threads for large frames, a summary no larger than H.264's largest level allows,
  and a shorter encoder lookahead for large summaries.
* Summaries are H.264 in 4:2:0 (yuv420p; odd sizes are scaled by one pixel to even), with the moov
  atom first (``+faststart``), and the source's audio over the same time ranges, re-encoded as AAC.
  They are written to a temporary file beside the target and renamed at the end.
"""

from __future__ import annotations

import glob
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


#: The mark summarize.py leaves in the files it writes (the summary's ``comment`` tag, the plot's
#: ``Software`` text), so that a later run replaces its own files and no one else's.
OUTPUT_MARK = "CSTA summarize.py"

#: Largest frame accepted, in pixels (8192 × 8192, twice 8K UHD). A decoder keeps up to 16 reference
#: frames, each 1.5 bytes per pixel or more, so larger frames could need gigabytes for decoding alone.
MAX_PIXELS = 8192 * 8192

#: Largest summary frame, in 16 × 16 macroblocks: H.264 level 6.2's limit (8192 × 4352; 7680 × 4320 fits).
#: Larger sources are written scaled down to fit, so that the summary plays on conforming decoders
#: and the encoder's memory does not grow with the source.
MAX_SUMMARY_MACROBLOCKS = 139_264

#: Memory the decoder's frame threads may hold in decoded frames (each thread keeps one frame in flight).
DECODER_FRAME_BUDGET = 256 << 20
#: Memory x264 may hold in frames (lookahead, B-frames, references, threads), at about 4 bytes per pixel.
ENCODER_FRAME_BUDGET = 1 << 30

#: Read errors in a row after which a file is taken to end (players retry reading after an error).
_READ_RETRIES = 32


class VideoError(Exception):
    """A file that cannot be used as a video; the message names the file and the reason."""


class FrameTooLarge(VideoError):
    """A video whose frames have more than :data:`MAX_PIXELS` pixels."""


class PartialVideoWarning(UserWarning):
    """A video of which part did not decode (packets skipped, an early end): what decoded is used."""


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


@dataclass
class DecodeReport:
    """How one stream decoded: packets read, those skipped because they did not decode, and whether
    reading stopped before the end of the file."""

    kind: str
    """'video' or 'audio'."""
    packets: int = 0
    skipped: int = 0
    frames: int = 0
    """Video frames decoded."""
    seconds: float = 0.0
    """Audio decoded, in seconds."""
    error: str | None = None
    """The last decoding error, when a packet was skipped."""
    stopped: str | None = None
    """Why reading stopped before the end of the file, when it did."""

    def problems(self) -> list[str]:
        """One phrase per kind of loss, with counts (empty when the stream decoded whole)."""
        found = []
        decoded = f"{self.frames} frames" if self.kind == "video" else f"{self.seconds:.1f} s of sound"
        if self.skipped:
            found.append(f"{self.skipped} of {self.packets} {self.kind} packets did not decode and were skipped "
                         f"({decoded} decoded; {self.error})")
        if self.stopped:
            found.append(f"{self.kind} damaged or truncated after {decoded} ({self.stopped})")
        return found

    def record(self) -> dict:
        """The counts as the JSON record reports them."""
        out = {"packets": self.packets, "skipped_packets": self.skipped}
        if self.kind == "video":
            out["frames"] = self.frames
        else:
            out["seconds"] = round(self.seconds, 3)
        out["stopped"] = self.stopped
        return out


def decode_packets(container, stream, report: DecodeReport) -> Iterator:
    """Frames of ``stream`` decoded packet by packet, as players decode: a packet that does not decode is
    skipped (counted in ``report``) and decoding goes on with the next one.

    ``container.decode`` ends at the first such packet: one damaged AC3 packet at the start of a
    file would silence it, two damaged H.264 slices would end the video there. A read error (the
    container itself damaged) is retried as players retry it; after ``_READ_RETRIES`` in a row, or
    at a truncated end, the file ends there, and the frames the decoder still holds are taken too.
    """
    failures = 0
    while True:
        try:
            for packet in container.demux(stream):
                failures = 0
                if packet.size:
                    report.packets += 1
                try:
                    frames = packet.decode()
                except av.FFmpegError as error:
                    if isinstance(error, MemoryError):
                        raise
                    report.skipped += 1
                    report.error = _reason(error)
                    continue
                yield from frames
            return
        except av.FFmpegError as error:
            if isinstance(error, MemoryError):
                raise
            failures += 1
            if failures < _READ_RETRIES:
                continue
            report.stopped = _reason(error)
            break
    flush = av.Packet()
    flush.time_base = stream.time_base
    try:
        yield from stream.decode(flush)
    except av.FFmpegError:
        pass


def decoder_threads(width: int, height: int) -> int:
    """Frame threads for decoding frames of this size: 0 (FFmpeg's choice) unless the frames in flight
    would pass :data:`DECODER_FRAME_BUDGET` (3 bytes per pixel: 10-bit or 4:4:4 frames included)."""
    fit = DECODER_FRAME_BUDGET // max(1, 3 * width * height)
    if fit > 16:                        # FFmpeg never starts more than 16 frame threads on its own
        return 0
    return int(max(1, min(fit, (os.cpu_count() or 1) + 1)))


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
            if width * height > MAX_PIXELS:
                raise FrameTooLarge(f"{path}: frames of {width}×{height} ({width * height:,} pixels) are larger "
                                    f"than this tool takes ({MAX_PIXELS:,} pixels, e.g. 8192×8192)")
            declared = stream.frames or None
            if declared is None and container.duration:
                declared = round(container.duration / av.time_base * float(fps)) or None
            stream.codec_context.thread_count = 1
            first = next(decode_packets(container, stream, DecodeReport("video")), None)
            rotation = _right_angle(first.rotation) if first is not None else 0
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
    """Every frame of a video in presentation order, with its time, decoded packet by packet.

    After iteration, ``frames`` is the number read, ``report`` counts the packets read and skipped,
    and ``warning`` says what was lost (or None): packets that did not decode, an early end.
    """

    def __init__(self, info: VideoInfo):
        self.info = info
        self.frames = 0
        self.report = DecodeReport("video")
        self.warning: str | None = None

    def __iter__(self) -> Iterator[Frame]:
        info = self.info
        first_time = None
        self.report = report = DecodeReport("video")
        try:
            with av.open(str(info.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                stream.codec_context.thread_count = decoder_threads(info.width, info.height)
                fallback = 1 / info.fps
                for picture in decode_packets(container, stream, report):
                    if picture.time is not None:
                        if first_time is None:
                            first_time = picture.time
                        time = picture.time - first_time
                    else:
                        time = float(self.frames * fallback)
                    yield Frame(self.frames, time, picture.pts, picture)
                    self.frames += 1
                    report.frames = self.frames
        except av.FFmpegError as error:
            if self.frames == 0:
                raise VideoError(f"{info.path}: no decodable frame ({_reason(error)})") from error
            report.stopped = _reason(error)
        if self.frames == 0:
            detail = f" ({report.skipped} of {report.packets} packets failed: {report.error})" if report.skipped else ""
            raise VideoError(f"{info.path}: contains no decodable frames{detail}")
        problems = report.problems()
        if not report.stopped and info.declared_frames and self.frames < info.declared_frames * 0.99 - 1:
            problems.append(f"ends after {self.frames} of the {info.declared_frames} frames its container declares")
        self.warning = "; ".join(problems) or None
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


def _macroblocks(width: int, height: int) -> int:
    return -(-width // 16) * -(-height // 16)


def summary_size(width: int, height: int) -> tuple[int, int]:
    """The summary's frame size: even, and scaled down (aspect kept) to fit H.264 level 6.2
    (:data:`MAX_SUMMARY_MACROBLOCKS`) when the source is larger."""
    size = even_size(width, height)
    scale = 1.0
    while _macroblocks(*size) > MAX_SUMMARY_MACROBLOCKS:
        scale = min(scale, (MAX_SUMMARY_MACROBLOCKS * 256 / (width * height)) ** 0.5) * 0.999
        size = even_size(int(width * scale) // 2 * 2, int(height * scale) // 2 * 2)
    return size


def encoder_options(width: int, height: int) -> dict[str, str]:
    """libx264's options for a summary of this frame size: the "fast" preset at CRF 18, with fewer
    frames held (lookahead, B-frames, references; threads on slices of one frame instead of on
    several frames) when the preset's would pass :data:`ENCODER_FRAME_BUDGET`.

    x264 keeps every frame in its lookahead, its B-frame queue, its references and one per frame
    thread, each at about 4 bytes per pixel with its half-pixel planes: the preset's 30-frame
    lookahead took 9.3 GB at 8192 × 8192 (docs/summarize.md).
    """
    options = {"crf": "18", "preset": "fast"}
    fit = ENCODER_FRAME_BUDGET // max(1, 4 * width * height)
    if fit < 40:
        lookahead = int(min(30, max(0, fit - 6)))
        options["x264-params"] = (f"rc-lookahead={lookahead}:bframes={min(3, lookahead)}:ref={2 if fit >= 12 else 1}"
                                  f":sync-lookahead=0:sliced-threads=1")
    return options


@dataclass(frozen=True)
class SummaryWritten:
    """What :func:`write_summary` wrote: video frames, their size, and how the source's audio decoded."""

    frames: int
    width: int
    height: int
    audio: DecodeReport | None
    """None for a source without sound."""


def _remove_temporaries_of_dead_runs(target: Path) -> None:
    """Partial encodings a killed run left beside ``target`` (``.NAME.PID.tmp`` of a process that is gone)."""
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        pid = stale.name[len(target.name) + 2:-len(".tmp")]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            stale.unlink(missing_ok=True)
        except (PermissionError, OverflowError, OSError):
            pass                                     # alive under another user, or not a process id


def write_summary(info: VideoInfo, target: Path, segments: Sequence[Segment],
                  on_frame: Callable[[], None] | None = None) -> SummaryWritten:
    """Encode the frames of ``segments`` (in order) into the MP4 ``target``, with the source's audio.

    Frames are turned upright and scaled by the encoder's converter (to yuv420p) to
    :func:`summary_size`, straight from the decoder's pixel format. Each frame keeps its duration
    (its timestamps shifted so the segments follow each other), so a variable-frame-rate source
    plays at its own speed; the audio of the same time spans follows, with silence where the
    source's audio is missing, so that sound and picture stay together.
    """
    target = Path(target)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    _remove_temporaries_of_dead_runs(target)
    width, height = summary_size(info.width, info.height)
    wanted = np.zeros(max(s.last for s in segments) + 1, dtype=np.int32) - 1
    for number, segment in enumerate(segments):
        wanted[segment.first: segment.last + 1] = number
    offsets = np.concatenate(([0.0], np.cumsum([s.end - s.start for s in segments])))
    time_base = Fraction(1, 90000)
    written = 0
    audio_report = None
    try:
        with av.open(str(temporary), "w", format="mp4", options={"movflags": "+faststart"}) as output:
            output.metadata["comment"] = OUTPUT_MARK
            video = output.add_stream("libx264", rate=info.fps)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.codec_context.time_base = time_base
            video.options = encoder_options(width, height)
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
                    if info.rotation:                       # scaled before the conversion to RGB
                        picture = av.VideoFrame.from_ndarray(picture_array(picture, info.rotation, (width, height)),
                                                             format="rgb24")
                    picture.pict_type = PictureType.NONE          # the encoder chooses the frame types
                    picture.pts, picture.time_base = pts, time_base
                    last_pts = pts
                    output.mux(video.encode(picture))
                    written += 1
            output.mux(video.encode(None))
            if audio is not None:
                audio_report = _write_audio(info, output, audio, segments)
        expected = int(sum(s.last - s.first + 1 for s in segments))
        if written != expected:
            raise VideoError(f"{info.path}: decoded differently on the second pass "
                             f"({written} of {expected} summary frames found)")
        os.replace(temporary, target)
    finally:
        if temporary.exists():
            temporary.unlink()
    return SummaryWritten(written, width, height, audio_report)


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


class _AudioOut:
    """Samples appended in order and encoded as soon as a whole encoder frame is there."""

    def __init__(self, output, audio):
        self.output, self.audio = output, audio
        self.rate = audio.codec_context.sample_rate
        self.layout = audio.codec_context.layout.name
        self.channels = audio.codec_context.layout.nb_channels
        self.frame_size = audio.codec_context.frame_size or 1024
        self.fifo = av.AudioFifo()
        self.written = 0

    def append(self, samples: np.ndarray) -> None:
        piece = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, dtype=np.float32), format="fltp",
                                           layout=self.layout)
        piece.sample_rate, piece.pts = self.rate, None
        self.fifo.write(piece)
        self._encode(self.frame_size)

    def silence(self, count: int) -> None:
        for start in range(0, count, self.rate):
            self.append(np.zeros((self.channels, min(self.rate, count - start)), dtype=np.float32))

    def close(self) -> None:
        self._encode(1)
        self.output.mux(self.audio.encode(None))

    def _encode(self, least: int) -> None:
        while self.fifo.samples >= least:
            chunk = self.fifo.read(min(self.frame_size, self.fifo.samples), partial=True)
            if chunk is None:
                break
            chunk.pts, chunk.time_base = self.written, Fraction(1, self.rate)
            self.written += chunk.samples
            self.output.mux(self.audio.encode(chunk))


def _write_audio(info: VideoInfo, output, audio, segments: Sequence[Segment]) -> DecodeReport:
    """The source's audio over the segments' time spans, concatenated, as AAC; how the audio decoded.

    The whole audio stream is decoded packet by packet (its counts are the stream's, not only the
    spans'); samples a span lacks (skipped packets, audio that ends before the video) are silence.
    """
    out = _AudioOut(output, audio)
    rate, layout = out.rate, out.layout
    report = DecodeReport("audio")
    spans = [(int(round(s.start * rate)), int(round(s.end * rate))) for s in segments]
    video_start = _video_start(info)
    span, cursor, position = 0, spans[0][0], None
    jitter = rate // 500            # timestamps within 2 ms of the running count continue it: no clicks

    def take(first: int, samples: np.ndarray) -> None:
        """Write the part of samples[first: first + n] that falls in the spans, silence before it."""
        nonlocal span, cursor
        end = first + samples.shape[1]
        while span < len(spans):
            low, high = spans[span]
            cursor = max(cursor, low)
            if first >= high:                       # nothing more for this span: the rest is silence
                out.silence(high - cursor)
                span += 1
                continue
            a, b = max(cursor, first), min(high, end)
            if b <= a:
                return
            if a > cursor:
                out.silence(a - cursor)
            out.append(samples[:, a - first: b - first])
            cursor = b
            if b < high:
                return
            span += 1

    with av.open(str(info.path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        for decoded in decode_packets(container, stream, report):
            report.seconds += decoded.samples / (decoded.sample_rate or rate)
            try:
                frames = resampler.resample(decoded)
            except ValueError:                      # the stream changed its format: start a new resampler
                frames = resampler.resample(None)
                resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
                frames += resampler.resample(decoded)
            for frame in filter(None, frames):
                if frame.time is not None:          # else: continue from the previous frame
                    stamped = int(round((frame.time - video_start) * rate))
                    if position is None or abs(stamped - position) > jitter:
                        position = stamped
                elif position is None:
                    position = 0
                samples = frame.to_ndarray()
                take(position, samples)
                position += samples.shape[1]
        for frame in filter(None, resampler.resample(None)):
            samples = frame.to_ndarray()
            take(position or 0, samples)
            position = (position or 0) + samples.shape[1]
    take(spans[-1][1], np.zeros((out.channels, 0), dtype=np.float32))       # silence to the last span's end
    out.close()
    return report


def _video_start(info: VideoInfo) -> float:
    """Presentation time of the first video frame that decodes (audio times are measured from it, as
    the frame times :class:`FrameReader` gives)."""
    with av.open(str(info.path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        for picture in decode_packets(container, stream, DecodeReport("video")):
            return float(picture.time or 0.0)
    return 0.0


def _reason(error: av.FFmpegError) -> str:
    return getattr(error, "strerror", None) or str(error)
