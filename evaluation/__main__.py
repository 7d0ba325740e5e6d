"""Score any method's per-step predictions under CSTA's protocol.

    python -m evaluation --dataset {SumMe,TVSum} --h5 FILE --scores SCORES.json
                         [--annotations FILE] [--out OUT.json]

SCORES.json maps h5 video keys to lists of per-step scores (one per ``picks``
entry).  A per-video table and the means are printed; ``--out`` writes them as
JSON.  Bad input ends with one ``error:`` line naming the file, the video and
the field, and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import warnings
from pathlib import Path

import numpy as np

from .annotations import SAMPLE_EVERY, default_annotations_path, load_tvsum_annotations
from .files import write_json_atomically
from .metrics import UndefinedCorrelationWarning
from .protocol import DATASETS, canonical_dataset, evaluate_video, mean_scores

H5_FIELDS = ("change_points", "n_frames", "picks", "user_summary")


class InputError(Exception):
    """Bad input; the message names the file, the video and the field."""


def _natural_key(name: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def read_scores(path: Path) -> dict[str, np.ndarray]:
    """``{video key: float64 scores}`` from a JSON object of lists of numbers."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object mapping video keys to score lists")
    if not data:
        raise InputError(f"{path}: no videos in the file")
    out = {}
    for key, values in data.items():
        where = f"{path}: video {key!r}: field 'scores'"
        if not isinstance(values, list) or not values:
            raise InputError(f"{where}: expected a non-empty list of numbers")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise InputError(f"{where}: expected a list of numbers")
        arr = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            bad = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise InputError(f"{where}: entry {bad} is {values[bad]}, not a finite number")
        out[key] = arr
    return out


def read_h5_videos(path: Path, keys) -> dict[str, dict[str, np.ndarray]]:
    """The protocol's fields of the requested videos, read once, checked."""
    import h5py

    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        hdf = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path}: cannot open as HDF5: {exc}") from None
    videos = {}
    with hdf:
        for key in keys:
            if key not in hdf or not isinstance(hdf[key], h5py.Group):
                known = sorted(hdf.keys(), key=_natural_key)
                shown = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
                raise InputError(f"{path}: video {key!r}: no such video in the file (it has {shown})")
            group = hdf[key]
            record = {}
            for name in H5_FIELDS:
                if name not in group:
                    raise InputError(f"{path}: video {key!r}: field {name!r} is missing")
                try:
                    record[name] = np.asarray(group[name][()])
                except (OSError, TypeError, ValueError) as exc:
                    raise InputError(f"{path}: video {key!r}: field {name!r} cannot be read: {exc}") from None
            _check_record(path, key, record)
            videos[key] = record
    return videos


def _check_record(path: Path, key: str, rec: dict[str, np.ndarray]) -> None:
    def fail(name, why):
        raise InputError(f"{path}: video {key!r}: field {name!r}: {why}")

    for name, arr in rec.items():
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            fail(name, f"expected numbers, got dtype {arr.dtype}")
    n = rec["n_frames"].reshape(-1)
    if n.size != 1 or not np.isfinite(n[0]) or n[0] != np.floor(n[0]) or n[0] <= 0:
        fail("n_frames", f"expected one positive whole number, got {n.tolist()!r}")
    n_frames = int(n[0])
    rec["n_frames"] = np.int64(n_frames)
    cps = rec["change_points"]
    if cps.ndim != 2 or cps.shape[1] != 2 or cps.shape[0] == 0:
        fail("change_points", f"expected shape (n_shots, 2), got {cps.shape}")
    if not np.all(np.isfinite(cps)) or np.any(cps != np.floor(cps)):
        fail("change_points", "expected whole frame numbers")
    if np.any(cps[:, 0] < 0) or np.any(cps[:, 1] < cps[:, 0]) or np.any(cps[:, 0] >= n_frames):
        fail("change_points", f"every row must be [first, last] frames with 0 <= first <= last and first < n_frames ({n_frames})")
    picks = rec["picks"]
    if picks.ndim != 1 or picks.size == 0:
        fail("picks", f"expected a non-empty 1-D array, got shape {picks.shape}")
    if not np.all(np.isfinite(picks)) or np.any(picks != np.floor(picks)):
        fail("picks", "expected whole frame numbers")
    if picks[0] < 0 or picks[-1] > n_frames or np.any(np.diff(picks) <= 0):
        fail("picks", f"expected strictly increasing frame numbers within [0, {n_frames}]")
    users = rec["user_summary"]
    if users.ndim != 2 or users.shape[0] == 0:
        fail("user_summary", f"expected shape (n_users, n_frames), got {users.shape}")


def evaluate_files(dataset: str, h5_path, scores_path, annotations_path=None):
    """Evaluate a scores file; returns ``(per-video VideoScores dict, notes)``.

    Raises :class:`InputError` for any inconsistent input.
    """
    dataset = canonical_dataset(dataset)
    h5_path, scores_path = Path(h5_path), Path(scores_path)
    scores = read_scores(scores_path)
    keys = sorted(scores, key=_natural_key)
    videos = read_h5_videos(h5_path, keys)

    annotations = None
    if dataset == "TVSum":
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
        rec = videos[key]
        n_picks = rec["picks"].size
        if scores[key].size != n_picks:
            raise InputError(
                f"{scores_path}: video {key!r}: field 'scores': {scores[key].size} scores, "
                f"but {h5_path} has {n_picks} picks (one score per pick expected)"
            )
        if annotations is not None:
            anno = annotations[key]
            n_steps = math.ceil(anno.shape[1] / SAMPLE_EVERY)
            if n_steps != n_picks:
                raise InputError(
                    f"{anno_path}: video {key!r}: field 'annotations': {anno.shape[1]} annotated frames "
                    f"give {n_steps} steps (every {SAMPLE_EVERY}th frame), but {h5_path} has {n_picks} picks"
                )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UndefinedCorrelationWarning)
            try:
                results[key] = evaluate_video(
                    dataset,
                    scores[key],
                    change_points=rec["change_points"],
                    n_frames=rec["n_frames"],
                    picks=rec["picks"],
                    user_summary=rec["user_summary"],
                    annotations=None if annotations is None else annotations[key],
                )
            except ValueError as exc:
                raise InputError(f"{h5_path}: video {key!r}: {exc}") from None
        notes += [f"{key}: {w.message}" for w in caught if issubclass(w.category, UndefinedCorrelationWarning)]
        if results[key].summary_frames == 0:
            notes.append(f"{key}: empty summary (every shot is longer than the budget); F1 reported as 0")
    return results, notes


def format_table(dataset: str, results: dict, means: dict) -> str:
    head = f"{'video':<12} {'F1 max':>8} {'F1 avg':>8} {'Kendall':>8} {'Spearman':>9} {'frames':>15}"
    lines = [head, "-" * len(head)]
    for key, v in results.items():
        frames = f"{v.summary_frames}/{v.summary.size}"
        lines.append(
            f"{key:<12} {v.f1_max:8.2f} {v.f1_avg:8.2f} {v.kendall:8.3f} {v.spearman:9.3f} {frames:>15}"
        )
    lines.append("-" * len(head))
    lines.append(
        f"{'mean':<12} {means['f1_max']:8.2f} {means['f1_avg']:8.2f} "
        f"{means['kendall']:8.3f} {means['spearman']:9.3f}"
    )
    headline = "F1 max (best user)" if dataset == "SumMe" else "F1 avg (mean over users)"
    lines.append(f"{dataset}, {len(results)} video(s); the usual F1 for {dataset} is {headline}.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation",
        description="Score per-step importance predictions with CSTA's protocol "
        "(keyshot summary by knapsack at 15%%, F1 against the user summaries, Kendall tau-b / Spearman rho).",
    )
    parser.add_argument("--dataset", required=True, type=str, help="SumMe or TVSum")
    parser.add_argument("--h5", required=True, help="eccv16-style h5 file with the videos' ground truth")
    parser.add_argument("--scores", required=True, help="JSON object: {video key: [one score per pick, ...]}")
    parser.add_argument(
        "--annotations",
        default=None,
        help=f"TVSum ydata-anno.tsv, plain or gzipped (default: {default_annotations_path()})",
    )
    parser.add_argument("--out", default=None, help="write the per-video scores and the means to this JSON file")
    args = parser.parse_args(argv)

    try:
        dataset = canonical_dataset(args.dataset)
    except ValueError:
        print(f"error: --dataset: unknown dataset {args.dataset!r}; expected one of {', '.join(DATASETS)}", file=sys.stderr)
        return 2
    try:
        results, notes = evaluate_files(dataset, args.h5, args.scores, args.annotations)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    means = mean_scores(results.values())
    print(format_table(dataset, results, means))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.out:
        payload = {"videos": {k: v.as_dict() for k, v in results.items()}, "mean": means}
        try:
            write_json_atomically(Path(args.out), payload, create_folders=False)
        except OSError as exc:
            print(f"error: {args.out}: cannot write: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
