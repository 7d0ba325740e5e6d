"""Turn your own videos and their annotations into a dataset that train.py and inference.py read like SumMe.

    python -m video.make_dataset VIDEOS... --out my.h5 --annotations ANNOTATIONS [--format scores|intervals]
                                 [--folds 5] [--seed 0] [--sample-every 15] [--vmax 1.0] [--no-pretrained]
    python -m video.make_dataset --official summe|tvsum DIR --out my.h5 [...]

``--official`` rebuilds SumMe or TVSum from its official release (a folder or the archive itself) in the
eccv16 layout: see :mod:`video.official`, where that logic lives.

Writes, beside ``my.h5`` (the eccv16 schema: ``features``, ``picks``, ``n_frames``, ``change_points``,
``n_frame_per_seg``, ``gtscore``, ``gtsummary``, ``user_summary``, ``video_name`` per ``video_i``, in
the order the videos are given):

* ``my_splits.json``: ``--folds`` random folds (seeded), PGL-SUM's list of ``{train_keys, test_keys}``;
* ``my.json``: the dataset description (``python train.py --datasets my.json``);
* for ``--format scores``: ``my_anno.tsv``, the annotations in TVSum's layout and in the h5's order.

Every option, video and the annotations are checked before any video is decoded (one line, exit
status 2), and the files are replaced together: a build that fails, at any point, leaves the
previous dataset's files exactly as they were. Packets that do not decode are skipped, as
summarize.py skips them, with a warning that counts them.

The features, the sampling (every ``--sample-every`` frames, as the eccv16 files) and the shots
(KTS, penalised for the video's full length) are summarize.py's. Two annotation formats:

* ``scores`` (TVSum's ``ydata-anno.tsv`` layout): one line per annotator and video,
  ``NAME<TAB>CATEGORY<TAB>s1,s2,...`` with a score for every frame; NAME is the video file's name
  without extension. Scored with the TVSum protocol: ``gtscore`` is the annotators' mean score at
  the sampled frames (scaled to [0, 1]); each annotator's ``user_summary`` is the knapsack keyshot
  summary (15 %) of their scores over the video's shots.
* ``intervals`` (SumMe's style): a JSON object ``{NAME: [[[first, last], ...], ...]}``: for every user,
  the frame intervals (inclusive) they selected. Scored with the SumMe protocol: ``user_summary`` is
  each user's selection, ``gtscore`` their mean at the sampled frames (scaled to [0, 1]).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dataset import write_eccv16
from evaluation.annotations import load_tvsum_annotations
from evaluation.summary import keyshot_summary
from storage.files import check_output_set, describe_write_error, json_text, replace_together

from .cli import OneLineParser, non_negative_int, positive_float, positive_int
from .folds import folds

FORMATS = ("scores", "intervals")


class AnnotationError(ValueError):
    """An annotation file that does not fit the videos; the message names the file, the video and the field."""


def read_scores(path: Path) -> dict[str, np.ndarray]:
    """TVSum-layout annotations by video name: (annotators, frames)."""
    try:
        return load_tvsum_annotations(path, by_id=True)
    except (OSError, ValueError) as error:
        raise AnnotationError(str(error)) from None


def read_intervals(path: Path) -> dict[str, list[list[tuple[int, int]]]]:
    """SumMe-style selections by video name: for each user, inclusive frame intervals."""
    from dataset import RepeatedField, load_json_strictly
    from storage.files import InputFileError, read_input_text

    try:
        data = load_json_strictly(read_input_text(path, "interval annotation file"))
    except InputFileError as error:
        raise AnnotationError(str(error)) from None
    except RepeatedField as repeated:
        raise AnnotationError(f"{path}: video {repeated.field!r}: appears twice (JSON would keep the last "
                              f"silently)") from None
    except (ValueError, RecursionError) as error:
        raise AnnotationError(f"{path}: cannot be read as JSON ({str(error)[:120] or 'nested too deeply'})") from None
    if not isinstance(data, dict) or not data:
        raise AnnotationError(f"{path}: expected a non-empty object {{video name: [user intervals, ...]}}")
    out = {}
    for name, users in data.items():
        if not isinstance(users, list):
            raise AnnotationError(f"{path}: video {name!r}: field 'users': expected a list of users, each a list "
                                  f"of [first, last] frame intervals")
        if not users:
            raise AnnotationError(f"{path}: video {name!r}: field 'users': no users")
        out[name] = [_user_intervals(path, name, user, intervals) for user, intervals in enumerate(users, start=1)]
    return out


def _user_intervals(path: Path, name: str, user: int, intervals) -> list[tuple[int, int]]:
    where = f"{path}: video {name!r}: field 'user {user}'"

    def whole(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not isinstance(intervals, list) or not all(isinstance(pair, list) and len(pair) == 2 and all(map(whole, pair))
                                                  for pair in intervals):
        raise AnnotationError(f"{where}: expected [[first, last], ...] frame intervals of whole numbers")
    if not intervals:
        raise AnnotationError(f"{where}: no intervals (the user selected no frame); every user's summary takes part "
                              f"in F1, so an empty one would lower every method's score")
    if any(first < 0 or last < first for first, last in intervals):
        raise AnnotationError(f"{where}: intervals need 0 <= first <= last")
    return [(first, last) for first, last in intervals]


def _unit_range(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def ground_truth(fmt: str, annotation, n_frames: int, picks: np.ndarray, shots: np.ndarray, where: str):
    """(gtscore, user_summary) of one video from its annotations."""
    if fmt == "scores":
        scores = np.asarray(annotation, dtype=np.float64)
        if scores.shape[1] != n_frames:
            raise AnnotationError(f"{where}: field 'scores': {scores.shape[1]} frames annotated, the video has "
                                  f"{n_frames}")
        users = np.stack([keyshot_summary(user[picks], shots, n_frames, picks) for user in scores])
        gtscore = _unit_range(scores.mean(axis=0)[picks])
    else:
        users = np.zeros((len(annotation), n_frames), dtype=np.float32)
        for row, intervals in zip(users, annotation):
            for first, last in intervals:
                if last >= n_frames:
                    raise AnnotationError(f"{where}: field 'intervals': [{first}, {last}] ends after the video's "
                                          f"last frame {n_frames - 1}")
                row[first: last + 1] = 1
        gtscore = _unit_range(users.mean(axis=0)[picks].astype(np.float64))
    return gtscore.astype(np.float32), users.astype(np.float32)


def main(argv=None) -> int:
    parser = OneLineParser(prog="python -m video.make_dataset", description=__doc__.split("\n")[0],
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("videos", nargs="*", help="video files, in the order of the h5 keys video_1, video_2, ...")
    parser.add_argument("--out", required=True, help="the h5 file to write (its splits and description beside it)")
    parser.add_argument("--annotations", help="annotation file (see --format); required with video files")
    parser.add_argument("--format", choices=FORMATS, default="scores",
                        help="scores: TVSum's ydata-anno.tsv layout; intervals: SumMe-style JSON of selections "
                             "(not with --official: the release's own format is read)")
    parser.add_argument("--official", nargs=2, metavar=("DATASET", "DIR"),
                        help="summe or tvsum, and its official release: the extracted folder or the archive "
                             "(.zip, .tar, .tar.gz); instead of video files and --annotations")
    parser.add_argument("--folds", type=positive_int, default=5,
                        help="random train/test splits (each video tested once): 2 to the number of videos")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the folds")
    parser.add_argument("--sample-every", type=positive_int, default=15,
                        help="features of every Nth frame (eccv16: 15)")
    parser.add_argument("--vmax", type=positive_float, default=1.0, help="KTS penalty weight: larger gives fewer shots")
    parser.add_argument("--device", default="auto", help="'auto', 'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument("--no-pretrained", action="store_true",
                        help="random GoogLeNet (offline testing only: the features are meaningless)")
    args = parser.parse_args(argv)
    if args.official:
        if args.videos or args.annotations:
            parser.error("--official: give no video files or --annotations (the release holds them)")
        if args.official[0].lower() not in ("summe", "tvsum"):
            parser.error(f"argument --official: DATASET must be summe or tvsum, got {args.official[0]!r}")
    elif not args.videos or not args.annotations:
        parser.error("the following arguments are required: "
                     + ", ".join(n for n, v in (("videos", args.videos), ("--annotations", args.annotations)) if not v))
    from storage.stopping import run_until_stopped

    return run_until_stopped(lambda: _build_reporting_errors(args),
                             "nothing was written; the previous files (if any) are as they were")


def _build_reporting_errors(args) -> int:
    try:
        if args.official:
            from .official import build_release

            return build_release(args)
        plan = check(args)
        return build(args, plan)
    except (AnnotationError, ValueError) as error:
        for line in str(error).splitlines():                 # a release's problems: one line each
            print(f"error: {line}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {describe_write_error(error)}", file=sys.stderr)
        return 2


@dataclass
class Plan:
    """What a build will read and write, once every option has been checked."""

    out: Path
    splits: Path
    anno: Path | None
    description: Path
    names: list[str]
    infos: list
    annotations: dict
    device: str

    def targets(self) -> list[Path]:
        """The files written, in the order they are renamed into place (the description last)."""
        return [p for p in (self.out, self.splits, self.anno, self.description) if p is not None]


def check(args) -> Plan:
    """Every option, input and output path checked before any work is done (ValueError, one line each).

    A build that fails part-way must not cost the previous dataset, and a mistake in an option must
    not cost minutes of decoding: the videos are opened (not decoded) and the annotations read here.
    """
    from .io import VideoError, probe

    out = Path(args.out)
    if out.suffix != ".h5":
        raise ValueError(f"--out {out}: expected a path ending in .h5")
    count = len(args.videos)
    if not 2 <= args.folds <= count:
        raise ValueError(f"--folds {args.folds}: need 2 <= folds <= the number of videos ({count})"
                         + ("; give at least 2 videos" if count < 2 else ""))
    names = [Path(v).stem for v in args.videos]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"videos: more than one file is named {repeated[0]!r}; annotations are matched by name")
    plan = Plan(out=out, splits=out.with_name(out.stem + "_splits.json"),
                anno=out.with_name(out.stem + "_anno.tsv") if args.format == "scores" else None,
                description=out.with_suffix(".json"), names=names, infos=[], annotations={},
                device=_device(args.device))
    check_output_set(out, plan.targets(), [*args.videos, args.annotations])
    annotations = read_scores(Path(args.annotations)) if args.format == "scores" else \
        read_intervals(Path(args.annotations))
    missing = [n for n in names if n not in annotations]
    if missing:
        raise AnnotationError(f"{args.annotations}: video {missing[0]!r}: no annotations for it "
                              f"(the file names {', '.join(sorted(annotations)[:5])}, ...)")
    try:
        plan.infos = [probe(video) for video in args.videos]
    except VideoError as error:
        raise ValueError(str(error)) from None
    plan.annotations = annotations
    return plan


def _device(name: str) -> str:
    from model.device import resolve_device      # imports torch: after the options are parsed

    return str(resolve_device(name))


def build(args, plan: Plan) -> int:
    from .features import GoogLeNetFeatures, PretrainedWeightsUnavailable
    from .io import PartialVideoWarning, VideoError
    from .pipeline import Sampling, decode_and_embed, video_shots

    try:
        extractor = GoogLeNetFeatures(plan.device, pretrained=not args.no_pretrained)
    except PretrainedWeightsUnavailable as error:
        raise ValueError(str(error)) from None

    records = []
    for index, (video, name, info) in enumerate(zip(args.videos, plan.names, plan.infos), start=1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PartialVideoWarning)        # reported below, with the counts
                features, picks, frame_times, differences, reader = decode_and_embed(
                    info, extractor, Sampling(every=args.sample_every))
        except VideoError as error:
            raise ValueError(str(error)) from None
        n_frames = len(frame_times)
        shots = video_shots(features, n_frames, picks, args.vmax, "video", differences)
        gtscore, users = ground_truth(args.format, plan.annotations[name], n_frames, picks, shots,
                                      f"{args.annotations}: video {name!r}")
        gtsummary = keyshot_summary(gtscore, shots, n_frames, picks)[picks].astype(np.float32)
        records.append({"key": f"video_{index}", "video_name": name, "features": features, "picks": picks,
                        "n_frames": n_frames, "change_points": shots, "gtscore": gtscore, "gtsummary": gtsummary,
                        "user_summary": users})
        print(f"video_{index}: {video}: {n_frames} frames, {len(picks)} steps, {len(shots)} shots, "
              f"{len(users)} users")
        if reader.warning:
            print(f"  warning: {video}: {reader.warning}; its ground truth and features cover the frames that decode")

    def write_h5(file) -> None:
        write_eccv16(file, records)

    keys = [r["key"] for r in records]
    description = {"name": plan.out.stem, "h5": plan.out.name, "splits": plan.splits.name,
                   "protocol": "TVSum" if args.format == "scores" else "SumMe"}
    writers = {plan.out: write_h5, plan.splits: _text(json_text(folds(keys, args.folds, args.seed)))}
    if plan.anno is not None:
        lines = [f"{name}\tuser\t{','.join(f'{v:g}' for v in row)}\n"
                 for name in plan.names for row in plan.annotations[name]]
        writers[plan.anno] = _text("".join(lines))
        description["annotations"] = plan.anno.name
    writers[plan.description] = _text(json_text(description))          # last: it names the others
    replace_together(writers, mode="w+b")
    print(f"wrote {plan.out}, {plan.splits.name}, {plan.description.name}: train with "
          f"`python train.py --datasets {plan.description}`")
    return 0


def _text(text: str):
    def write(file) -> None:
        file.write(text.encode("utf-8"))

    return write


if __name__ == "__main__":
    sys.exit(main())
