"""summarize.py's speed per stage on a generated long video, this tree against another checkout.

Generates (once, kept in ``--dir``) a ``--minutes``-minute ``--fps`` video of ``--size`` with a hard
cut every few seconds (moving gradients, a little noise, a tone), then runs ``summarize.py
--timings`` on it with this tree and, with ``--baseline PATH`` (e.g. an earlier commit checked out
with ``git worktree add``), with that checkout; both with random GoogLeNet weights
(``--no-pretrained``: the same network and cost as the ImageNet weights, no download). Prints each
run's per-stage table and its total wall time.

    python -m benchmarks.summarize_speed [--minutes 10] [--fps 30] [--size 640x360] [--baseline /tmp/csta-before]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.machine import cpu_model  # noqa: E402
from storage.files import write_atomically  # noqa: E402


def generate(path: Path, minutes: float, fps: int, width: int, height: int, seed: int = 0) -> None:
    write_atomically(path, lambda file: _encode(file, minutes, fps, width, height, seed), mode="w+b")


def _encode(file, minutes: float, fps: int, width: int, height: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    frames = int(minutes * 60 * fps)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    with av.open(file, "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "veryfast", "crf": "23"}
        audio = container.add_stream("aac", rate=48000, layout="stereo")
        audio.codec_context.time_base = Fraction(1, 48000)
        index = 0
        while index < frames:
            length = int(rng.integers(2 * fps, 8 * fps))
            colours = rng.uniform(40, 215, (2, 3)).astype(np.float32)
            direction = rng.normal(size=2).astype(np.float32)
            for step in range(min(length, frames - index)):
                phase = (x * direction[0] + y * direction[1]) / 80.0 + step / 15.0
                mix = (0.5 + 0.5 * np.sin(phase))[..., None]
                image = colours[0] * mix + colours[1] * (1 - mix) + rng.normal(0, 3, (height, width, 1))
                frame = av.VideoFrame.from_ndarray(image.clip(0, 255).astype(np.uint8), format="rgb24")
                frame.pts, frame.time_base = index, Fraction(1, fps)
                container.mux(video.encode(frame))
                index += 1
        container.mux(video.encode(None))
        total = frames * 48000 // fps
        for start in range(0, total, 48000):
            count = min(48000, total - start)
            tone = np.sin(2 * np.pi * (220 + 20 * (start // 48000 % 7)) * np.arange(start, start + count) / 48000)
            chunk = av.AudioFrame.from_ndarray(np.repeat(tone[None].astype(np.float32), 2, axis=0), format="fltp",
                                               layout="stereo")
            chunk.sample_rate, chunk.pts, chunk.time_base = 48000, start, Fraction(1, 48000)
            container.mux(audio.encode(chunk))
        container.mux(audio.encode(None))


def checkpoint(path: Path) -> Path:
    import torch

    from config import Config
    from model import build_model

    torch.manual_seed(0)
    torch.save(build_model(Config(), pretrained=False).state_dict(), path)
    return path


def run(tree: Path, video: Path, weights: Path, out: Path) -> tuple[float, str]:
    command = [sys.executable, "summarize.py", str(video), "--weights", str(weights), "--out", str(out),
               "--no-pretrained", "--device", "cpu", "--quiet", "--timings"]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)), capture_output=True,
                            text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        return seconds, result.stderr
    table = result.stdout[result.stdout.index("Throughput"):]
    return seconds, table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "csta-summarize-bench"))
    parser.add_argument("--baseline", default=None, help="another checkout of this project to compare with")
    args = parser.parse_args(argv)
    width, height = map(int, args.size.split("x"))
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    video = folder / f"generated_{args.minutes:g}min_{args.fps}fps_{width}x{height}.mp4"
    if not video.exists():
        started = time.perf_counter()
        generate(video, args.minutes, args.fps, width, height)
        print(f"generated {video} in {time.perf_counter() - started:.0f} s")
    weights = checkpoint(folder / "random_csta.pt")
    trees = [("this tree", ROOT)] + ([("baseline", Path(args.baseline).resolve())] if args.baseline else [])
    print(f"{args.minutes:g} min, {args.fps} fps, {width}x{height}; {cpu_model()}, {os.cpu_count()} cores")
    for name, tree in trees:
        with tempfile.TemporaryDirectory() as out:
            seconds, table = run(tree, video, weights, Path(out))
        print(f"\n{name} ({tree}): {seconds:.1f} s wall for the whole command")
        print(table.rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
