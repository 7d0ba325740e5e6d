"""Kernel temporal segmentation: speed against the original, and a long sequence.

Times :func:`video.kts.boundaries` on the fixture cases of ``tests/fixtures/kts_reference.json``
(whose ``seconds`` were measured with the original KTS on this machine, progress bars included),
checks the change points, and times a plain-loop transcription of the original programme (no
progress bars) on the same inputs now, so that the speed-up is also measured under today's load.
Then times the exact path on 1,500 and 3,000 synthetic frames, and segments a synthetic
20,000-frame sequence with planted scene changes, reporting time and peak memory.

    python -m benchmarks.kts [--repeats 5] [--exact-sizes 1500,3000] [--long 20000] [--dim 1024]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from video.kts import EXACT_LIMIT, boundaries  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"


def loop_cpd_auto(features: np.ndarray, vmax: float = 1.0, desc_rate: float = 1.0) -> np.ndarray:
    """The original algorithm as it is written: scatter matrix, then one min per (k, l) cell."""
    x = np.asarray(features, dtype=np.float64)
    kernel = x @ x.T
    n = len(kernel)
    diag_prefix = np.cumsum(np.concatenate(([0.0], np.diag(kernel))))
    box = np.zeros((n + 1, n + 1))
    box[1:, 1:] = np.cumsum(np.cumsum(kernel, 0), 1)
    box_diag = np.diag(box)
    start = np.arange(n).reshape(-1, 1)
    end = np.arange(n).reshape(1, -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scatter = (diag_prefix[1:].reshape(1, -1) - diag_prefix[:-1].reshape(-1, 1)
                   - (box_diag[1:].reshape(1, -1) + box_diag[:-1].reshape(-1, 1)
                      - box[1:, :-1].T - box[:-1, 1:]) / (end - start + 1.0))
    scatter[end < start] = 0

    def programme(m: int, backtrack: bool):
        cost = np.full((m + 1, n + 1), 1e101)
        cost[0, 1:] = scatter[0, :]
        previous = np.zeros((m + 1, n + 1), dtype=int)
        for k in range(1, m + 1):
            for length in range(k + 1, n + 1):
                candidates = scatter[k:length, length - 1] + cost[k - 1, k:length]
                cost[k, length] = candidates.min()
                if backtrack:
                    previous[k, length] = candidates.argmin() + k
        return cost[:, n], previous

    scores, _ = programme(n - 1, backtrack=False)
    # the original's penalty, for the video's length before subsampling (cpd_auto's desc_rate)
    length, counts = n * desc_rate, np.arange(1, n)
    penalty = np.concatenate(([0.0], (vmax * counts / (2.0 * length)) * (np.log(float(length) / counts) + 1)))
    count = int(np.argmin(scores / float(n) + penalty))
    _, previous = programme(count, backtrack=True)
    change_points, cursor = np.zeros(count, dtype=int), n
    for k in range(count, 0, -1):
        cursor = change_points[k - 1] = previous[k, cursor]
    return change_points


def planted_sequence(n: int, dim: int, seed: int = 0, noise: float = 0.5,
                     shortest: int = 20, longest: int = 200):
    """Unit-norm features: one random direction per scene plus per-frame noise; returns (x, cuts)."""
    rng = np.random.default_rng(seed)
    cuts = [0]
    while cuts[-1] < n:
        cuts.append(cuts[-1] + int(rng.integers(shortest, longest)))
    cuts[-1] = n
    x = np.empty((n, dim), dtype=np.float32)
    for first, last in zip(cuts[:-1], cuts[1:]):
        x[first:last] = rng.normal(size=dim) + noise * rng.normal(size=(last - first, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, np.asarray(cuts[1:-1])


def best_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def fixture_cases(repeats: int, loop_baseline: bool) -> bool:
    reference = json.loads((FIXTURES / "kts_reference.json").read_text())
    inputs = np.load(FIXTURES / "kts_reference_inputs.npz")
    print(f"Fixture cases (best of {repeats}; 'original' = kts_reference.json seconds):")
    header = f"{'case':>4} {'n':>5} {'match':>5} {'ours ms':>9} {'original s':>10} {'speed-up':>8}"
    if loop_baseline:
        header += f" {'loop now s':>10} {'vs loop':>8}"
    print(header)
    all_match = True
    for case in reference:
        x = inputs[f"X{case['case']}"]
        found = boundaries(x)
        match = found.tolist() == case["cps"]
        all_match &= match
        ours = best_time(lambda: boundaries(x), repeats)
        line = (f"{case['case']:>4} {case['n']:>5} {'yes' if match else 'NO':>5} {ours * 1e3:>9.2f} "
                f"{case['seconds']:>10.2f} {case['seconds'] / ours:>7.0f}x")
        if loop_baseline:
            started = time.perf_counter()
            loop_result = loop_cpd_auto(x)
            loop = time.perf_counter() - started
            assert loop_result.tolist() == case["cps"], "loop transcription disagrees with the fixture"
            line += f" {loop:>10.2f} {loop / ours:>7.0f}x"
        print(line)
    return all_match


ORIGINAL_SECONDS = {1500: 13.7, 3000: 97.0}
"""The original's KTS on 1,500 and 3,000 frames on this machine (as measured when the task was set)."""


def exact_sizes(sizes, dim: int) -> None:
    print(f"\nExact path on synthetic sequences ({dim}-d, planted scene changes):")
    for n in sizes:
        x, cuts = planted_sequence(n, dim, seed=2)
        started = time.perf_counter()
        found = boundaries(x)
        elapsed = time.perf_counter() - started
        original = ORIGINAL_SECONDS.get(n)
        versus = f", original {original:.1f} s -> {original / elapsed:.0f}x" if original else ""
        print(f"  n={n}: {elapsed:.2f} s{versus}; {len(found)} change points, "
              f"planted recovered exactly: {np.array_equal(found, cuts)}")


def long_sequence(n: int, dim: int) -> None:
    x, cuts = planted_sequence(n, dim, seed=1)
    tracemalloc.start()
    started = time.perf_counter()
    found = boundaries(x)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    hits = sum(np.min(np.abs(found - c)) <= 1 for c in cuts) if len(found) else 0
    mode = "exact" if n <= EXACT_LIMIT else f"grid of {-(-n // EXACT_LIMIT)} frames + refinement"
    print(f"\nSynthetic {n} × {dim} sequence, {len(cuts)} planted changes ({mode}):")
    print(f"  time {elapsed:.1f} s, peak traced memory {peak / 2**30:.2f} GiB, "
          f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
    print(f"  found {len(found)} change points; {hits}/{len(cuts)} planted within ±1 frame; "
          f"identical to planted: {np.array_equal(found, cuts)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats per fixture case (best kept)")
    parser.add_argument("--long", type=int, default=20000, help="frames in the synthetic long sequence (0: skip)")
    parser.add_argument("--dim", type=int, default=1024, help="feature dimension of the long sequence")
    parser.add_argument("--exact-sizes", default="1500,3000",
                        help="comma-separated lengths for exact-path timings ('' to skip)")
    parser.add_argument("--no-loop-baseline", action="store_true",
                        help="skip timing the plain-loop transcription of the original (about 4 s)")
    args = parser.parse_args(argv)
    print(f"{platform.processor() or platform.machine()}, numpy {np.__version__}, python {platform.python_version()}")
    all_match = fixture_cases(args.repeats, not args.no_loop_baseline)
    sizes = [int(v) for v in args.exact_sizes.split(",") if v.strip()]
    if sizes:
        exact_sizes(sizes, 256)
    if args.long:
        long_sequence(args.long, args.dim)
    return 0 if all_match else 1


if __name__ == "__main__":
    sys.exit(main())
