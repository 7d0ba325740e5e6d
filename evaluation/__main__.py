"""Score any method's per-step predictions under CSTA's protocol (SumMe, TVSum) or Mr.HiSum's.

    python -m evaluation --dataset {SumMe,TVSum} --h5 FILE --scores SCORES.json
                         [--annotations FILE] [--out OUT.json]
    python -m evaluation --dataset MrHiSum --h5 mr_hisum.h5 --scores SCORES.json
                         [--split-file mr_hisum_split.json --subset test] [--out OUT.json]

SCORES.json maps h5 video keys to lists of per-step scores (one per ``picks`` entry; for Mr.HiSum
one per row of ``features``). Scores are importances (e.g. in [0, 1]): the keyshot knapsack is
not shift-invariant, so negative scores (logits) are refused. A per-video table and the means are
printed; ``--out`` writes them as JSON. Bad input ends with one ``error:`` line naming the file,
the video and the field, and exit status 2. The h5 file is checked exactly as train.py checks it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from dataset import natural_key
from storage.files import write_json_atomically

from .annotations import SAMPLE_EVERY, default_annotations_path, load_tvsum_annotations
from .metrics import UndefinedCorrelationWarning
from .protocols import PROTOCOLS, get_protocol
from .summary import shot_lengths

SUBSETS = ("all", "train", "val", "test")


class InputError(Exception):
    """Bad input; the message names the file, the video and the field, on one line."""

    def __init__(self, message: str):
        super().__init__("".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                                 for c in message))


#: Scores are computed in float32, as the original does: a larger magnitude would become infinite.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _load_scores_json(path: Path):
    from dataset import RepeatedField, load_json_strictly
    from storage.files import InputFileError, read_input_text

    try:
        return load_json_strictly(read_input_text(path, "scores file"))
    except InputFileError as exc:
        raise InputError(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: malformed JSON: {exc}") from None
    except RepeatedField as exc:
        raise InputError(f"{path}: video {exc.field!r}: appears twice (JSON would keep the last silently)") from None
    except RecursionError:
        raise InputError(f"{path}: malformed JSON: nested too deeply") from None
    except ValueError as exc:                            # Python's limit on the digits of an integer
        raise InputError(f"{path}: malformed JSON: {exc}") from None


def _score_values(where: str, values) -> np.ndarray:
    """A video's scores as float64, each a finite number float32 can hold."""
    if not isinstance(values, list) or not values:
        raise InputError(f"{where}: expected a non-empty list of numbers")
    for at, value in enumerate(values):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise InputError(f"{where}: expected a list of numbers, entry {at} is a JSON {_json_kind(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{where}: entry {at} is {value}, not a finite number")
        if abs(value) > FLOAT32_MAX:
            shown = f"{value:.3g}" if isinstance(value, float) else \
                f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
            raise InputError(f"{where}: entry {at} is {shown}, beyond float32's range (about 3.4e38), in "
                             f"which the protocol computes")
    return np.asarray(values, dtype=np.float64)


def _json_kind(value) -> str:
    names = {type(None): "null", bool: "boolean", str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


def read_scores(path: Path, *, allow_negative: bool = False) -> dict[str, np.ndarray]:
    """``{video key: float64 scores}`` from a JSON object of lists of numbers."""
    data = _load_scores_json(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object mapping video keys to score lists")
    if not data:
        raise InputError(f"{path}: no videos in the file")
    out = {}
    for key, values in data.items():
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(f"{path}: video {key!r}: not a valid video key (a lone surrogate)") from None
        where = f"{path}: video {key!r}: field 'scores'"
        arr = _score_values(where, values)
        if not allow_negative and arr.min() < 0:
            at = int(np.argmin(arr))
            raise InputError(f"{where}: smallest score {arr[at]:g} (entry {at}) is negative; scores must be "
                             f"importances >= 0 (e.g. in [0, 1]: apply a sigmoid to logits), because the keyshot "
                             f"knapsack is not shift-invariant (--allow-negative-scores scores them as they are)")
        out[key] = arr
    return out


def read_videos(path: Path, keys, protocol, exclude_invalid: bool = False) -> dict:
    """The requested videos of the h5 file, checked by ``dataset.load_h5`` for what scoring reads (the same
    checks as training's test videos); with ``exclude_invalid`` the invalid ones are left out (``.excluded``)."""
    from dataset import DatasetError, load_h5

    try:
        missing = not path.exists()
    except (OSError, ValueError):                       # a name too long: load_h5 names the problem
        missing = False
    if missing:
        raise InputError(f"{path}: no such file")
    try:
        return load_h5(path, keys=keys, feature_dim=None, roles=("score",), schema=protocol.schema,
                       load_features=False, exclude_invalid=exclude_invalid)
    except DatasetError as exc:
        message = str(exc)
        if exc.problem.startswith("missing video key"):
            message = f"{path}: video {exc.video!r}: no such video in the file ({exc.problem.split('(', 1)[-1]}"
        raise InputError(message) from None


def subset_keys(split_file: Path, subset: str, h5_path: Path | None = None) -> list[str] | None:
    """The keys of ``subset`` in a split file (all its splits); None for 'all'.

    Scoring needs no training videos, so a split file without any is accepted. DSNet's keys
    (``FILE.h5/KEY``) are read as the key of the h5 file being scored when they name it.
    """
    from dataset import DatasetError, read_splits_file

    try:
        splits = read_splits_file(split_file, require_training=False)
    except DatasetError as exc:
        raise InputError(str(exc)) from None
    if subset == "all":
        return None
    role = {"train": "train_keys", "val": "val_keys", "test": "test_keys"}[subset]
    keys = list(dict.fromkeys(key for split in splits for key in getattr(split, role)))
    if not keys:
        raise InputError(f"{split_file}: field '{role}': no {subset} videos in the split file")
    own = f"{h5_path.name}/" if h5_path is not None else None
    plain = []
    for key in keys:
        if "/" in key:
            if own is None or not key.startswith(own):
                raise InputError(f"{split_file}: video {key!r}: field '{role}': names a video of another file "
                                 f"than {h5_path}")
            key = key[len(own):]
        plain.append(key)
    return list(dict.fromkeys(plain))


def empty_summary_cause(video, budget: int) -> str:
    """Why a keyshot summary came out empty: no shot fits the budget, or the scores left nothing worth taking."""
    lengths = shot_lengths(video.change_points)
    if lengths.min() > budget:
        return (f"every shot is longer than the budget ({int(lengths.min())} frames or more against "
                f"{budget})")
    return "no shot that fits the budget has a positive score"


def evaluate_files(dataset: str, h5_path, scores_path, annotations_path=None, *, split_file=None,
                   subset: str = "all", allow_negative: bool = False, exclude_invalid: bool = False):
    """Evaluate a scores file; returns ``(protocol, per-video result dict, notes, excluded)`` (``excluded``:
    video key -> why it was left out, with ``exclude_invalid``).

    ``exclude_invalid``: score without the videos the h5 check refuses; a note says how many of how many
    were scored.

    Raises :class:`InputError` for any inconsistent input.
    """
    protocol = get_protocol(dataset)
    h5_path, scores_path = Path(h5_path), Path(scores_path)
    scores = read_scores(scores_path, allow_negative=allow_negative)
    keys = sorted(scores, key=natural_key)
    if split_file is not None:
        wanted = subset_keys(Path(split_file), subset, h5_path)
        if wanted is not None:
            missing = [k for k in wanted if k not in scores]
            if missing:
                raise InputError(f"{scores_path}: video {missing[0]!r}: field 'scores': missing, but the {subset} "
                                 f"videos of {split_file} include it ({len(missing)} missing)")
            keys = sorted(wanted, key=natural_key)
    videos = read_videos(h5_path, keys, protocol, exclude_invalid)
    excluded = videos.excluded
    keys = [key for key in keys if key not in excluded]

    annotations = None
    if protocol.needs_annotations:
        anno_path = Path(annotations_path) if annotations_path else default_annotations_path()
        try:
            annotations = load_tvsum_annotations(anno_path)
        except (OSError, ValueError) as exc:
            raise InputError(f"TVSum annotations: {exc}") from None
        for key in keys:
            if key not in annotations:
                raise InputError(
                    f"{anno_path}: video {key!r}: field 'annotations': no annotations for this video "
                    f"(the file has video_1 .. video_{len(annotations)})"
                )

    results, notes = {}, []
    for key in keys:
        video = videos[key]
        if scores[key].size != video.n_steps:
            raise InputError(
                f"{scores_path}: video {key!r}: field 'scores': {scores[key].size} scores, "
                f"but {h5_path} has {video.n_steps} picks (one score per pick expected)"
            )
        if annotations is not None and annotations[key].shape[1] != video.n_frames:
            n_steps = math.ceil(annotations[key].shape[1] / SAMPLE_EVERY)
            if n_steps != video.n_steps:
                raise InputError(
                    f"{anno_path}: video {key!r}: field 'annotations': {annotations[key].shape[1]} annotated "
                    f"frames give {n_steps} steps (every {SAMPLE_EVERY}th frame), but {h5_path} has "
                    f"{video.n_steps} picks"
                )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UndefinedCorrelationWarning)
            try:
                results[key] = protocol.evaluate(video, scores[key],
                                                 None if annotations is None else annotations[key])
            except ValueError as exc:
                raise InputError(f"{h5_path}: video {key!r}: {exc}") from None
        notes += [f"{key}: {w.message}" for w in caught if issubclass(w.category, UndefinedCorrelationWarning)]
        if results[key].summary_frames == 0:
            notes.append(f"{key}: empty summary ({empty_summary_cause(video, protocol.budget(video))}); "
                         f"F1 reported as 0")
    return protocol, results, notes, excluded


def note_lines(notes: list[str], named: int = 3) -> list[str]:
    """The notes (``KEY: cause (detail); meaning``) as lines: one per video while a cause concerns at most
    ``named`` videos, else one line per cause, naming the first ``named`` videos and counting the rest (with the
    detail when it is the same for all of them)."""
    import re

    by_cause: dict[str, list[tuple[str, str]]] = {}
    for note in notes:
        key, _, text = note.partition(": ")
        by_cause.setdefault(re.sub(r"\d+", "#", text), []).append((key, text))
    lines = []
    for entries in by_cause.values():
        if len(entries) <= named:
            lines += [f"note: {key}: {text}" for key, text in entries]
            continue
        text = entries[0][1]
        if any(other != text for _, other in entries):     # the same cause, with numbers of each video's own
            text = text.split(" (")[0] + (f"; {text.rsplit(';', 1)[1].strip()}" if ";" in text else "")
        keys = ", ".join(key for key, _ in entries[:named])
        lines.append(f"note: {len(entries)} videos ({keys} and {len(entries) - named} more): {text}")
    return lines


def format_table(protocol, results: dict, means: dict, excluded: int = 0) -> str:
    columns = list(protocol.metrics)
    head = f"{'video':<14}" + "".join(f" {protocol.headers[c]:>12}" for c in columns) + f" {'frames':>15}"
    lines = [head, "-" * len(head)]

    def cell(metric, value):
        return f" {value:12.2f}" if protocol.metric(metric).percent else f" {value:12.3f}"

    for key, v in results.items():
        row = v.as_dict()
        frames = f"{v.summary_frames}/{v.summary.size}"
        lines.append(f"{key:<14}" + "".join(cell(c, row[c]) for c in columns) + f" {frames:>15}")
    lines.append("-" * len(head))
    lines.append(f"{'mean':<14}" + "".join(cell(c, means[c]) for c in columns))
    counted = f"{len(results)} of {len(results) + excluded} videos ({excluded} invalid, left out)" if excluded \
        else f"{len(results)} video(s)"
    lines.append(f"{protocol.name}, {counted}; the usual F1 for {protocol.name} is "
                 f"{protocol.headers[protocol.f1]}.")
    return "\n".join(lines)


def main(argv=None) -> int:
    from storage.stopping import run_until_stopped

    return run_until_stopped(lambda: _main(argv), "nothing was written")


def _check_out(out: str, inputs: dict) -> None:
    """The results file's folder exists and takes files; the path is neither a folder nor one of the inputs."""
    from storage.files import OutputLocationError, refuse_overwriting_inputs

    if not out.strip():
        raise InputError("--out: an empty path; give the path of the results JSON")
    try:
        refuse_overwriting_inputs("--out", out, inputs)
    except OutputLocationError as exc:
        raise InputError(str(exc)) from None
    path = Path(out)
    if path.is_dir():
        raise InputError(f"--out: {out}: cannot write: it is a folder; give the path of the results JSON")
    if not path.parent.is_dir():
        raise InputError(f"--out: {out}: cannot write: {path.parent} is not an existing folder")
    if not os.access(path.parent, os.W_OK):
        raise InputError(f"--out: {out}: cannot write: {path.parent} is read-only")


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation",
        description="Score per-step importance predictions with CSTA's protocol (keyshot summary by knapsack at "
        "15%, F1 against the user summaries, Kendall tau-b / Spearman rho) or Mr.HiSum's (adds mAP@50/@15).",
    )
    parser.add_argument("--dataset", required=True, type=str, help=f"protocol: {', '.join(PROTOCOLS)}")
    parser.add_argument("--h5", required=True, help="h5 file with the videos' ground truth (eccv16 or Mr.HiSum layout)")
    parser.add_argument("--scores", required=True, help="JSON object: {video key: [one score per pick, ...]}")
    parser.add_argument(
        "--annotations",
        default=None,
        help=f"TVSum ydata-anno.tsv, plain or gzipped (default: {default_annotations_path()})",
    )
    parser.add_argument("--split-file", default=None,
                        help="split file (CSTA .txt, PGL-SUM/Mr.HiSum .json, DSNet .yml) to choose --subset from")
    parser.add_argument("--subset", choices=SUBSETS, default="all",
                        help="with --split-file: score only these videos (default: every video of SCORES.json)")
    parser.add_argument("--allow-negative-scores", action="store_true",
                        help="score negative values as they are (the original code's behaviour: the knapsack then "
                             "never selects a shot whose mean is negative)")
    parser.add_argument("--exclude-invalid-videos", action="store_true",
                        help="score without the videos the h5 check refuses (each named once; the table and "
                             "--out say how many of how many were scored) instead of refusing the file")
    parser.add_argument("--out", default=None, help="write the per-video scores and the means to this JSON file")
    args = parser.parse_args(argv)

    try:
        protocol = get_protocol(args.dataset)
    except ValueError:
        print(f"error: --dataset: unknown dataset {args.dataset!r}; expected one of {', '.join(PROTOCOLS)}",
              file=sys.stderr)
        return 2
    if args.subset != "all" and args.split_file is None:
        print("error: --subset: needs --split-file", file=sys.stderr)
        return 2
    try:
        if args.out is not None:
            _check_out(args.out, {"h5 file": args.h5, "scores file": args.scores, "split file": args.split_file,
                                  "annotation file": args.annotations or (default_annotations_path()
                                                                          if protocol.needs_annotations else None)})
        protocol, results, notes, excluded = evaluate_files(protocol.name, args.h5, args.scores, args.annotations,
                                                  split_file=args.split_file, subset=args.subset,
                                                  allow_negative=args.allow_negative_scores,
                                                  exclude_invalid=args.exclude_invalid_videos)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    means = protocol.means(results.values())
    print(format_table(protocol, results, means, len(excluded)))
    for line in note_lines(notes):
        print(line, file=sys.stderr)
    if args.out is not None:
        payload = {"videos": {k: v.as_dict() for k, v in results.items()}, "mean": means}
        if excluded:
            payload["excluded"] = excluded
        try:
            write_json_atomically(Path(args.out), payload, create_folders=False)
        except OSError as exc:
            print(f"error: {args.out}: cannot write: {exc.strerror or exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
