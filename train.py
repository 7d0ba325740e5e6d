"""Train CSTA on SumMe and TVSum, 5 splits each, as the paper does (or on Mr.HiSum, or your own dataset).

    python train.py                      # the paper's protocol on data/eccv16_dataset_*.h5
    python train.py --demo               # a few minutes on a CPU, on generated data
    python train.py --datasets SumMe --splits 1 2 --epochs 50 --resume
    python train.py --datasets MrHiSum --selection map50
    torchrun --nproc_per_node 4 train.py --datasets TVSum      # one split at a time on 4 GPUs

Checkpoints: WEIGHTS_DIR/{dataset}/split{k}.pt (plain state dicts the original code reads) with a
JSON record beside each; per-epoch logs: RESULTS_DIR/{dataset}_split{k}.jsonl, and their curves as
RESULTS_DIR/{dataset}_split{k}.png (RESULTS_DIR/{dataset}_runs.png with --runs); --tensorboard DIR: the
same epochs as TensorBoard scalars.
"""

from __future__ import annotations

import argparse
import os
import sys

from config import Config
from training.sources import config_from_arguments


def parse_arguments(argv=None) -> tuple[Config, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", action="store_true",
                        help="train on a small generated dataset (no downloads, no ImageNet weights)")
    parser.add_argument("--resume", action="store_true",
                        help="skip splits already finished with the same options and continue an unfinished "
                             "split from its last finished epoch")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    Config.add_arguments(parser)
    args = parser.parse_args(argv)
    return config_from_arguments(parser, args), args


def main(argv=None) -> int:
    config, args = parse_arguments(argv)

    from storage.stopping import run_until_stopped
    from training.run import train

    return run_until_stopped(lambda: train(config, demo=args.demo, resume=args.resume, progress=not args.quiet),
                             "finished splits are kept, and `--resume` continues the others from their progress files",
                             quiet=os.environ.get("RANK", "0") != "0")      # with torchrun, rank 0 speaks for the run


if __name__ == "__main__":
    sys.exit(main())
