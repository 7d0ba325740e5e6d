"""Score saved CSTA weights on the test videos of every split: Kendall tau, Spearman rho and F1 (and mAP).

    python inference.py                      # weights/{SumMe,TVSum}/split{1..5}.pt (this project's or the authors')
    python inference.py --demo               # the checkpoints of `python train.py --demo`
    python inference.py --datasets TVSum --weights-dir path/to/weights --out results/tvsum.json
    python inference.py --datasets MrHiSum --splits 1

Per split: one row per test video and the split's means. Final: the mean over splits, as the paper reports.
The numbers go to RESULTS_DIR/inference.json (--out), and a page of its tables and each checkpoint's
training curves to report.html beside it (NAME.html beside --out NAME.json).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from config import Config
from training.sources import config_from_arguments


def parse_arguments(argv=None) -> tuple[Config, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", action="store_true", help="score the checkpoints of `python train.py --demo`")
    parser.add_argument("--out", type=Path, default=None,
                        help="results JSON (default: RESULTS_DIR/inference.json); its page goes beside it: report.html "
                             "beside inference.json, NAME.html beside NAME.json")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (shown while many videos are scored)")
    parser.add_argument("--options-from", choices=("checkpoint", "command-line"), default="checkpoint",
                        help="model options: from the JSON record beside each checkpoint when there is one "
                             "(default), or from the command line (checkpoints of the original code have no record)")
    Config.add_arguments(parser, exclude=Config.not_for_scoring())
    args = parser.parse_args(argv)
    return config_from_arguments(parser, args), args


def main(argv=None) -> int:
    config, args = parse_arguments(argv)
    from storage.stopping import run_until_stopped

    return run_until_stopped(lambda: _main(config, args), "no results were written")


def _main(config: Config, args) -> int:
    import dataset as eccv16
    from storage.checkpoints import MissingCheckpoint
    from storage.files import describe_write_error
    from training.inference_run import check_result_paths, final_table, score_datasets, write_results

    out = args.out or Path(config.results_dir) / "inference.json"
    try:
        page = check_result_paths(out)
        results = score_datasets(config, demo=args.demo, use_record=args.options_from == "checkpoint",
                                 progress=not args.quiet)
    except (eccv16.DatasetError, MissingCheckpoint, RuntimeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print()
    print(final_table(results, config.splits))
    try:
        write_results(out, page, config, results)
    except OSError as error:
        print(f"error: {describe_write_error(error)}", file=sys.stderr)
        return 2
    print(f"\nwritten to {out} and {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
