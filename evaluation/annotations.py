"""TVSum frame-level annotations (``ydata-anno.tsv``, Song et al., CVPR 2015).

The file has one row per (video, annotator): ``youtube_id <TAB> category <TAB>
s1,s2,...`` with an importance score 1..5 for every frame.  The eccv16 h5 files
number the videos in the order they first appear in this file, so the h5 key
``video_i`` is the i-th distinct youtube id.  The file may be plain or gzipped.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np

__all__ = [
    "default_annotations_path",
    "load_tvsum_annotations",
    "step_annotations",
    "SAMPLE_EVERY",
]

#: The eccv16 features, and CSTA's TVSum correlation protocol, use every 15th frame.
SAMPLE_EVERY = 15


def default_annotations_path() -> Path:
    """The project's copy: ``data/ydata-anno.tsv.gz`` (or an unpacked ``data/ydata-anno.tsv``)."""
    data = Path(__file__).resolve().parent.parent / "data"
    packed = data / "ydata-anno.tsv.gz"
    plain = data / "ydata-anno.tsv"
    if not packed.exists() and plain.exists():
        return plain
    return packed


def _read_text(path: Path) -> str:
    """The file's text, gunzipped when it is gzip; a device, a pipe or more than the limit is refused."""
    from storage.files import TEXT_INPUT_LIMIT, InputFileError, read_input_bytes

    try:
        raw = read_input_bytes(path, "TVSum annotation file")
    except InputFileError as error:
        if str(error).endswith("not found"):
            raise FileNotFoundError(str(error)) from None
        raise ValueError(str(error)) from None
    if raw[:2] == b"\x1f\x8b":
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unpacked:
            raw = unpacked.read(TEXT_INPUT_LIMIT + 1)
        if len(raw) > TEXT_INPUT_LIMIT:
            raise ValueError(f"{path}: unpacks to more than a TVSum annotation file can be")
    return raw.decode("utf-8")


def load_tvsum_annotations(path=None, *, by_id: bool = False) -> dict[str, np.ndarray]:
    """Raw TVSum annotations keyed like the eccv16 h5 files.

    Returns ``{"video_1": array, ..., "video_50": array}`` where each array is
    (n_annotators, n_frames) float64 holding the scores as written (1..5), in
    file order.  ``path`` defaults to :func:`default_annotations_path`.
    Raises ``FileNotFoundError`` or ``ValueError`` (naming the file and line)
    for a missing or malformed file. ``by_id=True`` keys the arrays by the
    file's first column (the youtube id, or a video's name) instead.
    """
    path = Path(path) if path is not None else default_annotations_path()
    try:
        text = _read_text(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: TVSum annotation file not found") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read TVSum annotations: {exc}") from None

    rows: dict[str, list[np.ndarray]] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.rstrip("\r").split("\t")
        if len(fields) != 3:
            raise ValueError(
                f"{path}: line {line_no}: expected 3 tab-separated fields "
                f"(youtube id, category, scores), got {len(fields)}"
            )
        try:
            scores = np.array(fields[2].split(","), dtype=np.float64)
        except ValueError:
            raise ValueError(f"{path}: line {line_no}: scores are not comma-separated numbers") from None
        if not np.isfinite(scores).all() or scores.min() < 0:
            at = int(np.flatnonzero(~np.isfinite(scores) | (scores < 0))[0])
            raise ValueError(f"{path}: line {line_no}: video {fields[0]}: frame {at + 1} has score "
                             f"{fields[2].split(',')[at].strip()}; annotators' scores are finite numbers >= 0 "
                             f"(TVSum's are 1 to 5)")
        if scores.max() <= 0:
            raise ValueError(f"{path}: line {line_no}: video {fields[0]}: every score is 0; the protocol divides "
                             f"each annotator's scores by their maximum")
        rows.setdefault(fields[0], []).append(scores)

    if not rows:
        raise ValueError(f"{path}: no annotations in file")
    out = {}
    for index, (youtube_id, per_user) in enumerate(rows.items(), start=1):
        lengths = {s.size for s in per_user}
        if len(lengths) != 1:
            raise ValueError(
                f"{path}: video {youtube_id} (video_{index}): annotators give different "
                f"frame counts {sorted(lengths)}"
            )
        out[youtube_id if by_id else f"video_{index}"] = np.stack(per_user)
    return out


def step_annotations(raw, every: int = SAMPLE_EVERY, picks=None) -> np.ndarray:
    """Each annotator's scores divided by that annotator's maximum, every ``every``-th frame.

    ``raw`` is one video's (n_annotators, n_frames) array; the result is
    (n_annotators, ceil(n_frames / every)), the reference CSTA's TVSum
    correlations compare predicted step scores against.
    """
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim != 2:
        raise ValueError(f"annotations must have shape (n_annotators, n_frames), got {raw.shape}")
    peak = raw.max(axis=1, initial=-1.0, keepdims=True)
    return (raw / peak)[:, ::every] if picks is None else (raw / peak)[:, np.asarray(picks)]
