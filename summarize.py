"""Summarise your own videos with a trained CSTA model.

    python summarize.py INPUT [INPUT ...] --weights weights/SumMe/split4.pt --out summaries/

Default paths are in the checkout (weights/SumMe/split4.pt, summaries/) wherever the command runs;
paths given on the command line are relative to the working directory.

INPUT is a video file or a folder (every file in it that FFmpeg opens as a video; ``--recursive``
for sub-folders; earlier ``*.summary.mp4`` outputs are skipped). For every video NAME this writes,
in --out:

* ``NAME.summary.mp4``: the selected shots, upright, with their sound, in H.264/yuv420p (AAC audio);
* ``NAME.json``: shots with start/end frames and times and their scores, the selected shots, the
  per-step scores and the settings;
* ``NAME.png``: the importance curve over time with the selected shots shaded;
* ``NAME.html``: a page that plays the source video beside its importance curve and shots (click a
  shot to go there; a checkbox plays only the selected shots); self-contained, no network. A folder
  of videos also gets ``index.html``, listing every summary in --out. ``--no-html``: no pages.

A file that cannot be used (missing, empty, not a video, frames above 8192 × 8192) is reported by
name and the others go on; packets that do not decode are skipped, and a damaged or truncated file is
summarised from what decodes, with a warning that counts what was lost. Exit status: 0 when every
input was summarised; 2 for a bad option, checkpoint or input (one line each); 130 on Ctrl-C, 143 on
SIGTERM; 1 only for a bug. See docs/summarize.md.
"""

from __future__ import annotations

import argparse
import sys

from config import REPO_ROOT, Config, ConfigError
from video.cli import OneLineParser, positive_float, positive_int, proportion


def parse_args(argv=None) -> argparse.Namespace:
    parser = OneLineParser(
        description="Summarise videos with CSTA: keyshot summary video, JSON of shots and scores, "
                    "and a plot of the importance curve.", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="video file or folder of videos")
    parser.add_argument("--weights", default=str(REPO_ROOT / "weights" / "SumMe" / "split4.pt"),
                        help="CSTA checkpoint (plain state dict), as `python train.py` writes them; its options "
                             "come from the JSON record beside it")
    parser.add_argument("--out", default=str(REPO_ROOT / "summaries"), help="output folder (created if needed)")
    parser.add_argument("--recursive", action="store_true", help="also look for videos in sub-folders")
    parser.add_argument("--skip-existing", action="store_true",
                        help="skip videos whose summary JSON is already in --out")
    parser.add_argument("--samples-per-second", type=positive_float, default=2.0,
                        help="score this many frames per second of video (CSTA's datasets: 2)")
    parser.add_argument("--sample-every", type=positive_int, default=None,
                        help="score every Nth frame instead (the eccv16 files' convention, 15)")
    parser.add_argument("--ratio", type=proportion, default=0.15,
                        help="longest summary as a share of the video's frames")
    parser.add_argument("--vmax", type=positive_float, default=1.0,
                        help="KTS penalty weight: larger gives fewer, longer shots")
    parser.add_argument("--kts-penalty", choices=("video", "samples"), default="video",
                        help="KTS penalty for the video's length in frames (the original's desc_rate), or for "
                             "the number of samples (this project's earlier behaviour: fewer shots)")
    parser.add_argument("--no-refine-cuts", action="store_true",
                        help="keep shot boundaries on sampled frames instead of moving each to the exact cut")
    parser.add_argument("--device", default="auto",
                        help="'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="frames per GoogLeNet batch")
    parser.add_argument("--no-pretrained", action="store_true",
                        help="random GoogLeNet instead of its ImageNet weights (offline testing only: "
                             "the summaries are meaningless)")
    parser.add_argument("--no-html", action="store_true",
                        help="no NAME.html pages (player, importance curve and shots); earlier pages of these "
                             "videos are removed, and an index.html summarize.py wrote in --out is kept up to date")
    parser.add_argument("--timings", action="store_true", help="print per-stage throughput at the end")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--options-from", choices=("checkpoint", "command-line"), default="checkpoint",
                        help="where the model options come from: the JSON record beside the checkpoint (when "
                             "there is one), or the model flags below")
    model_options = Config().model_options()
    Config.add_arguments(parser, exclude=Config.field_names() - set(model_options))
    for group in parser._action_groups:
        if group.title and group.title.startswith("configuration"):
            group.title = ("model options, for checkpoints without a JSON record beside them (the original "
                           "authors') or with --options-from command-line; otherwise a record's options win")
    args = parser.parse_args(argv)
    try:
        args.config = Config.from_args(args)
    except ConfigError as error:
        parser.error(str(error))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from storage.stopping import run_until_stopped

    def summarise() -> int:
        from video.batch import run      # imports torch: after the arguments are checked

        return run(args)

    return run_until_stopped(summarise, "the videos summarised before keep their outputs; the one in progress "
                                        "has none (its temporary files are removed)")


if __name__ == "__main__":
    sys.exit(main())
