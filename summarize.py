"""Summarise your own videos with a trained CSTA model.

    python summarize.py INPUT [INPUT ...] --weights weights/SumMe/split4.pt --out summaries/

INPUT is a video file or a folder of them (mp4, avi, mkv, webm, mov; not searched recursively;
earlier ``*.summary.mp4`` outputs in a folder are skipped).
For every video NAME this writes, in --out:

* ``NAME.summary.mp4``: the selected shots, same frame rate and size (no audio);
* ``NAME.json``: shots with start/end frames and times and their scores, the selected shots, the
  per-step scores and the settings;
* ``NAME.png``: the importance curve over time with the selected shots shaded.

A file that cannot be used (missing, empty, truncated, not a video) is reported by name and the
others go on; the exit status is 1 if any input failed.  See docs/summarize.md.
"""

from __future__ import annotations

import argparse
import sys

from config import Config, ConfigError


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Summarise videos with CSTA: keyshot summary video, JSON of shots and scores, "
                    "and a plot of the importance curve.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="video file or folder of videos")
    parser.add_argument("--weights", default="weights/SumMe/split4.pt",
                        help="CSTA checkpoint (plain state dict, as train.py and the original write)")
    parser.add_argument("--out", default="summaries", help="output folder (created if needed)")
    parser.add_argument("--sample-rate", type=_positive_int, default=15,
                        help="score every Nth frame (15: the datasets' 2 fps at 30 fps)")
    parser.add_argument("--ratio", type=_proportion, default=0.15,
                        help="longest summary as a share of the video's frames")
    parser.add_argument("--vmax", type=_positive_float, default=1.0,
                        help="KTS penalty weight: larger gives fewer, longer shots")
    parser.add_argument("--device", default="auto",
                        help="'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument("--batch-size", type=_positive_int, default=32, help="frames per GoogLeNet batch")
    parser.add_argument("--no-pretrained", action="store_true",
                        help="random GoogLeNet instead of its ImageNet weights (offline testing only: "
                             "the summaries are meaningless)")
    parser.add_argument("--timings", action="store_true", help="print per-stage throughput at the end")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    model_options = Config().model_options()
    Config.add_arguments(parser, exclude=Config.field_names() - set(model_options))
    for group in parser._action_groups:
        if group.title and group.title.startswith("configuration"):
            group.title = ("model options, for checkpoints without a JSON record beside them (the original "
                           "authors'); a record's options win")
    args = parser.parse_args(argv)
    try:
        args.config = Config.from_args(args)
    except ConfigError as error:
        parser.error(str(error))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from video.batch import run      # imports torch: after the arguments are checked

    return run(args)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _proportion(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())
