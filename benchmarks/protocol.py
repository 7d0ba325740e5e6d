"""Wall time of the paper's whole protocol (2 datasets x 5 splits x 100 epochs), measured on generated data.

Generates SumMe- and TVSum-shaped data (25 and 50 videos of the real datasets' lengths, GoogLeNet
feature width), trains every split of both for ``--epochs`` epochs with each ``--jobs`` value in
turn, and projects the 100-epoch protocol from the measured wall time (start-up included, so the
projection errs long). Prints one row per ``--jobs`` value.

    python -m benchmarks.protocol [--device cuda] [--epochs 2] [--jobs 1 2 4] [--splits 1 2 3 4 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import demo  # noqa: E402

#: Steps per video in the real files (every 15th frame): SumMe 25 videos of 60-700, TVSum 50 of 80-1,500.
SHAPES = {"SumMe": {"n_videos": 25, "min_steps": 60, "max_steps": 700},
          "TVSum": {"n_videos": 50, "min_steps": 80, "max_steps": 1500}}


def generate(folder: Path, shapes: dict) -> Path:
    data = folder / "data"
    (data / "splits").mkdir(parents=True)
    for name, shape in shapes.items():
        made = demo.make_demo_dataset(folder / f"generated_{name}", **shape)
        shutil.copyfile(made.h5_path(name), data / f"eccv16_dataset_{name.lower()}_google_pool5.h5")
        shutil.copyfile(made.splits_path(name), data / "splits" / f"{name}_splits.txt")
        if name == "TVSum":
            shutil.copyfile(made.annotations_path(name), data / "ydata-anno.tsv")
    return data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--splits", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--small", action="store_true", help="10 short videos per dataset (a dry run of the script)")
    args = parser.parse_args(argv)
    shapes = {name: ({**shape, "n_videos": 10, "min_steps": 15, "max_steps": 25} if args.small else shape)
              for name, shape in SHAPES.items()}
    with tempfile.TemporaryDirectory() as folder:
        data = generate(Path(folder), shapes)
        rows = []
        for jobs in args.jobs:
            out = Path(folder) / f"jobs{jobs}"
            command = [sys.executable, str(ROOT / "train.py"), "--data-dir", str(data),
                       "--splits-dir", str(data / "splits"), "--splits", *map(str, args.splits),
                       "--epochs", str(args.epochs), "--jobs", str(jobs), "--device", args.device,
                       "--no-pretrained", "--quiet", "--weights-dir", str(out / "w"), "--results-dir", str(out / "r")]
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(ROOT)))
            seconds = time.perf_counter() - started
            split_epochs = 2 * len(args.splits) * args.epochs
            projected = seconds * (2 * 5 * 100) / split_epochs
            rows.append((jobs, seconds, projected))
    print(f"protocol projection: {len(args.splits)} split(s) x 2 datasets x {args.epochs} epoch(s) measured, "
          f"device {args.device}; projected to 2 x 5 x 100")
    print(f"{'jobs':>5} {'measured s':>11} {'projected 2x5x100':>18}")
    for jobs, seconds, projected in rows:
        print(f"{jobs:>5} {seconds:>11.1f} {projected / 60:>14.1f} min")
    best = min(rows, key=lambda row: row[2])
    print(f"best: --jobs {best[0]}, {best[2] / 60:.1f} min for the whole protocol")
    return 0


if __name__ == "__main__":
    sys.exit(main())
