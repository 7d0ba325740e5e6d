"""Training on a dataset larger than memory: peak memory with ``--streaming``, and the in-memory path's speed.

1. Writes a Mr.HiSum-schema file of at least ``--gigabytes`` GB (generated videos of 300-600 steps;
   kept in ``--dir`` for later runs), describes a split that trains on ``--train-videos`` of them
   and selects/tests on a few more, and runs ``train.py`` on it for one epoch with ``--streaming``
   (the h5 metadata of every video is read and checked; features are read per video). The peak
   resident memory of that process is reported (``wait4``'s ``ru_maxrss``). With ``--in-memory``
   the same run without ``--streaming`` is measured too (it holds the features: more than the file).
2. With ``--baseline PATH`` (another checkout of this project, e.g. an earlier commit made with
   ``git worktree add``), times the in-memory path on the demo's SumMe split 1 in both trees,
   alternately, and prints the ratio of their median epoch times from the per-epoch logs.

    python -m benchmarks.streaming [--gigabytes 5] [--dir /tmp/csta-stream] [--train-videos 48]
                                   [--in-memory] [--baseline /tmp/csta-before] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.machine import cpu_model  # noqa: E402
from demo.mrhisum import write_video  # noqa: E402
from storage.files import write_atomically  # noqa: E402


#: Steps per generated video: Mr.HiSum's videos are 1 step per second, mostly 2-7 minutes long.
STEPS = (120, 400)


def write_large_file(folder: Path, gigabytes: float, seed: int = 0) -> tuple[Path, list[str]]:
    path = folder / f"mr_hisum_{gigabytes:g}GB.h5"
    if path.is_file() and path.stat().st_size >= gigabytes * 1e9:
        with h5py.File(path) as h5:
            return path, sorted(h5.keys())
    rng = np.random.default_rng(seed)
    direction = (0.1 * rng.standard_normal(1024)).astype(np.float32)
    keys, started = [], time.perf_counter()

    def write(file) -> None:
        written = 0
        with h5py.File(file, "w") as h5:
            while written < gigabytes * 1e9:
                key = f"video_{len(keys) + 1}"
                n = int(rng.integers(STEPS[0], STEPS[1] + 1))
                write_video(h5, key, rng, n, direction)
                written += n * 1024 * 4
                keys.append(key)

    write_atomically(path, write, mode="w+b")
    print(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB, {len(keys)} videos) in "
          f"{time.perf_counter() - started:.0f} s")
    return path, keys


def run_measured(command: list[str], env: dict) -> tuple[int, float, float]:
    """Exit status, wall seconds and peak resident memory (GiB) of a child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        print(process.stderr.read(), file=sys.stderr)
    return process.returncode, time.perf_counter() - started, usage.ru_maxrss / 2**20


def memory_benchmark(args) -> None:
    """Peak memory of one epoch on the large file and, as a control, on a small file of the same kind."""
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for gigabytes, in_memory_too in ((args.gigabytes, args.in_memory), (args.control_gigabytes, True)):
        path, keys = write_large_file(folder, gigabytes)
        rng = np.random.default_rng(1)
        chosen = [keys[i] for i in rng.choice(len(keys), args.train_videos + 8, replace=False)]
        split = folder / f"{path.stem}_split.json"
        split.write_text(json.dumps({"train_keys": chosen[8:], "val_keys": chosen[:4], "test_keys": chosen[4:8]}))
        description = folder / f"{path.stem}.json"
        description.write_text(json.dumps({"name": "stream", "h5": path.name, "splits": split.name,
                                           "protocol": "MrHiSum"}))
        size = f"{path.stat().st_size / 1e9:.2f} GB, {len(keys)} videos"
        with tempfile.TemporaryDirectory() as out:
            common = [sys.executable, str(ROOT / "train.py"), "--datasets", str(description), "--splits", "1",
                      "--epochs", "1", "--no-pretrained", "--device", "cpu", "--quiet"]
            env = dict(os.environ, PYTHONPATH=str(ROOT))
            rows.append((size, "--streaming", *run_measured(
                [*common, "--streaming", "--weights-dir", f"{out}/w", "--results-dir", f"{out}/r"], env)))
            if in_memory_too:
                rows.append((size, "in memory", *run_measured(
                    [*common, "--no-streaming", "--weights-dir", f"{out}/w2", "--results-dir", f"{out}/r2"], env)))
    print(f"\nMr.HiSum-schema files ({STEPS[0]}-{STEPS[1]} steps per video); one epoch on {args.train_videos} videos "
          f"(+4 val, 4 test) of each; {cpu_model()}, {os.cpu_count()} cores")
    print(f"{'file':<26} {'run':<12} {'status':>6} {'seconds':>8} {'peak RSS (GiB)':>15}")
    for size, name, status, seconds, peak in rows:
        print(f"{size:<26} {name:<12} {status:>6} {seconds:>8.1f} {peak:>15.2f}")


def epoch_seconds(tree: Path, out: Path, epochs: int, *extra: str) -> list[float]:
    command = [sys.executable, "train.py", "--demo", "--datasets", "SumMe", "--splits", "1", "--epochs", str(epochs),
               "--device", "cpu", "--quiet", "--weights-dir", str(out / "w"), "--results-dir", str(out / "r"), *extra]
    subprocess.run(command, cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = out / "r" / "SumMe_split1.jsonl"
    return [json.loads(line)["seconds"] for line in log.read_text().splitlines()]


def speed_benchmark(args) -> None:
    baseline = Path(args.baseline).resolve()
    runs = {"this tree": (ROOT, ()), "this tree, --progress-every 0": (ROOT, ("--progress-every", "0")),
            "baseline": (baseline, ())}
    samples = {name: [] for name in runs}
    with tempfile.TemporaryDirectory() as out:
        for repeat in range(args.repeats):
            for name, (tree, extra) in runs.items():
                folder = Path(out) / f"{len(samples[name])}-{repeat}-{name}".replace(" ", "_").replace(",", "")
                samples[name] += epoch_seconds(tree, folder, args.epochs, *extra)
    theirs = statistics.median(samples["baseline"])
    print(f"\nin-memory path, demo SumMe split 1, {args.epochs} epochs x {args.repeats} runs each, alternating; "
          f"{cpu_model()}, {os.cpu_count()} cores, torch's default thread count; baseline: {baseline}")
    for name in runs:
        ours = statistics.median(samples[name])
        print(f"  {name:<32} median {ours:.3f} s per epoch, ratio to the baseline {ours / theirs:.3f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gigabytes", type=float, default=5.0)
    parser.add_argument("--control-gigabytes", type=float, default=0.25,
                        help="the small file whose runs show what the training itself takes")
    parser.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "csta-stream"))
    parser.add_argument("--train-videos", type=int, default=48)
    parser.add_argument("--in-memory", action="store_true", help="also measure the run without --streaming")
    parser.add_argument("--baseline", default=None, help="another checkout to compare the in-memory speed with")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_memory:
        memory_benchmark(args)
    if args.baseline:
        speed_benchmark(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
