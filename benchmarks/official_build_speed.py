"""How long ``python -m video.make_dataset --official tvsum`` takes on a generated full-length TVSum-like release.

Generates (once, kept in ``--dir``) a release in TVSum's layout: ``video/ID.mp4``, a ``--minutes``-minute
``--fps`` video of ``--size`` (benchmarks.summarize_speed's: a hard cut every few seconds), a 5-second second
video (two folds need two videos), and ``data/ydata-tvsum50-anno.tsv`` with 20 annotators' 1–5 scores per
frame (one score per 2-second shot, as TVSum's annotators gave them); then times the whole build command in a
fresh process, with random GoogLeNet weights (``--no-pretrained``: the same network and cost as the ImageNet
weights, no download).

    python -m benchmarks.official_build_speed [--minutes 4] [--fps 30] [--size 320x240] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.machine import cpu_model  # noqa: E402
from benchmarks.summarize_speed import generate  # noqa: E402

VIDEO_ID = "bench_000001"
#: A 5-second second video: a dataset needs two videos for its two folds.
COMPANION_ID, COMPANION_MINUTES = "bench_000002", 5 / 60


def release(folder: Path, minutes: float, fps: int, width: int, height: int) -> Path:
    """The TVSum-like release in ``folder`` (generated when absent)."""
    import av

    annotations = folder / "data" / "ydata-tvsum50-anno.tsv"
    lines = []
    for seed, (name, length) in enumerate(((VIDEO_ID, minutes), (COMPANION_ID, COMPANION_MINUTES))):
        video = folder / "video" / f"{name}.mp4"
        if not video.exists():
            video.parent.mkdir(parents=True, exist_ok=True)
            generate(video, length, fps, width, height, seed=seed)
        with av.open(str(video)) as container:
            frames = sum(1 for _ in container.decode(video=0))
        rng = np.random.default_rng(seed + 1)
        shot = 2 * fps
        rows = [np.repeat(rng.integers(1, 6, -(-frames // shot)), shot)[:frames] for _ in range(20)]
        lines += [f"{name}\tBK\t{','.join(map(str, row))}\n" for row in rows]
    annotations.parent.mkdir(parents=True, exist_ok=True)
    annotations.write_text("".join(lines))
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--size", default="320x240", help="WIDTHxHEIGHT")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dir", default=None, help="where the release is generated and kept (default: a temporary "
                                                     "folder)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    folder = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="official-bench-"))
    started = time.perf_counter()
    release(folder, args.minutes, args.fps, width, height)
    print(f"release {folder} ready in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "video.make_dataset", "--official", "tvsum", str(folder),
                   "--out", str(Path(out) / "tvsum_bench.h5"), "--folds", "2", "--no-pretrained",
                   "--device", args.device]
        before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(result.stdout.strip())
    if result.returncode:
        print(result.stderr.strip()[-2000:], file=sys.stderr)
        return result.returncode
    print(f"{args.minutes:g} min, {args.fps} fps, {width}x{height}: whole build {wall:.1f} s wall, {cpu:.1f} CPU-s, "
          f"on {cpu_model()} ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}), --device {args.device}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
