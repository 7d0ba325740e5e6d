"""Two methods' results paired video by video: mean difference, its bootstrap interval, and Wilcoxon's test.

    python -m evaluation.compare A.json B.json --out C.json

``A`` and ``B`` are what ``inference.py`` writes (``results/inference.json``), or folders holding such files
(``--runs K`` trainings scored run by run: ``results/run1_seed123456/inference.json``, ...; each video's
value is then its mean over the runs). Per dataset and metric of its protocol, over the videos both cover
(a video of a split is ``(split, key)``):

* ``n``, ``mean_a``, ``mean_b``, ``difference`` = mean_b - mean_a;
* ``ci95``: the 2.5 and 97.5 percentiles of the mean difference over ``--resamples`` paired bootstrap
  resamples of the videos (seeded by ``--seed``);
* ``p_wilcoxon``: ``scipy.stats.wilcoxon(b, a)`` (two-sided, scipy's defaults) on the paired values.

Results that do not cover the same videos of a dataset are refused (exit 2), naming what differs.
numpy and scipy only.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from storage.files import write_json_atomically
from .protocols import get_protocol

__all__ = ["CompareError", "compare", "load_results", "main", "paired_statistics"]


class CompareError(ValueError):
    """Results that cannot be compared; names the file and what differs."""


def _result_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(path.glob("*/inference.json")) or sorted(path.glob("inference.json"))
        if found:
            return found
        raise CompareError(f"{path}: no inference.json in it or in its run folders (score each run with "
                           f"`python inference.py --weights-dir WEIGHTS/runI_seedS --out RESULTS/runI_seedS/inference.json`)")
    raise CompareError(f"{path}: no such file or folder")


def _read_json(path: Path) -> dict:
    from storage.files import InputFileError, read_input_text

    try:
        data = json.loads(read_input_text(path, "result of inference.py"))
    except InputFileError as error:
        raise CompareError(str(error)) from None
    except (ValueError, RecursionError) as error:
        raise CompareError(f"{path}: not JSON ({str(error).splitlines()[0][:120]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("datasets"), dict):
        raise CompareError(f"{path}: not a result of inference.py (no \"datasets\" object)")
    return data


def _metric_value(file: Path, dataset: str, split, key: str, metric: str, value) -> float:
    """A per-video metric as inference.py writes it: a finite JSON number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CompareError(f"{file}: dataset '{dataset}': split {split} video {key!r}: field '{metric}': {value!r} is "
                           f"not a finite number")
    return float(value)


def load_results(path: str | Path) -> dict[str, dict[str, Any]]:
    """``{dataset: {"protocol": name, "videos": {(split, key): {metric: value}}}}``, averaged over runs."""
    files = _result_files(Path(path))
    runs = []
    for file in files:
        per_dataset = {}
        for name, result in _read_json(file)["datasets"].items():
            try:
                protocol = get_protocol(result["protocol"])
                videos = {(str(split), key): {m: _metric_value(file, name, split, key, m, values[m])
                                              for m in protocol.metrics}
                          for split, entry in result["splits"].items() for key, values in entry["videos"].items()}
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                if isinstance(error, CompareError):
                    raise
                raise CompareError(f"{file}: dataset '{name}': not a result of inference.py ({error})") from None
            per_dataset[name] = {"protocol": protocol.name, "videos": videos}
        runs.append((file, per_dataset))
    first_file, first = runs[0]
    for file, other in runs[1:]:
        for name in set(first) | set(other):
            if name not in first or name not in other or set(first[name]["videos"]) != set(other[name]["videos"]):
                raise CompareError(f"{file}: dataset '{name}': its runs do not cover the same videos as {first_file}")
    return {name: {"protocol": entry["protocol"],
                   "videos": {video: {m: float(np.mean([run[name]["videos"][video][m] for _, run in runs]))
                                      for m in values}
                              for video, values in entry["videos"].items()}}
            for name, entry in first.items()}


def paired_statistics(a: np.ndarray, b: np.ndarray, *, resamples: int = 10_000, seed: int = 0) -> dict[str, Any]:
    """Mean difference b - a with its seeded paired-bootstrap 95 % interval and Wilcoxon's signed-rank p."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    differences = b - a
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, differences.size, size=(resamples, differences.size))
    means = differences[draws].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            p_value = float(stats.wilcoxon(b, a).pvalue)
        except ValueError:                          # too few videos, or every difference is zero
            p_value = float("nan")
    return {"n": int(differences.size), "mean_a": float(a.mean()), "mean_b": float(b.mean()),
            "difference": float(differences.mean()), "ci95": [float(low), float(high)],
            "p_wilcoxon": None if np.isnan(p_value) else p_value}


def compare(a_path: str | Path, b_path: str | Path, *, resamples: int = 10_000, seed: int = 0) -> dict[str, Any]:
    a, b = load_results(a_path), load_results(b_path)
    missing = sorted(set(a) ^ set(b))
    if missing:
        raise CompareError(f"{a_path} and {b_path} do not score the same datasets ({', '.join(missing)} in one only)")
    datasets = {}
    for name in sorted(a):
        if a[name]["protocol"] != b[name]["protocol"]:
            raise CompareError(f"dataset '{name}': scored with {a[name]['protocol']} in {a_path}, "
                               f"{b[name]['protocol']} in {b_path}")
        videos_a, videos_b = a[name]["videos"], b[name]["videos"]
        if set(videos_a) != set(videos_b):
            only = sorted(set(videos_a) ^ set(videos_b))
            split, key = only[0]
            raise CompareError(f"dataset '{name}': {a_path} and {b_path} do not cover the same videos "
                               f"({len(only)} in one only, e.g. split {split} video '{key}')")
        order = sorted(videos_a)
        protocol = get_protocol(a[name]["protocol"])
        datasets[name] = {metric: paired_statistics([videos_a[v][metric] for v in order],
                                                    [videos_b[v][metric] for v in order],
                                                    resamples=resamples, seed=seed)
                          for metric in protocol.metrics}
    return {"a": str(a_path), "b": str(b_path), "resamples": resamples, "seed": seed, "datasets": datasets}


def _check_out(out: Path, inputs: list[Path]) -> None:
    """A JSON path in an existing folder that is none of the inputs (nor a file inside an input folder)."""
    from storage.files import OutputLocationError, refuse_overwriting_inputs

    if out.is_dir() or not out.parent.is_dir() or not str(out).strip():
        raise CompareError(f"--out: {out}: cannot write: give a file path in an existing folder")
    files = {f"result {label}" + (f" ({index})" if index else ""): path
             for label, given in zip("AB", inputs) for index, path in enumerate(_existing_results(given))}
    try:
        refuse_overwriting_inputs("--out", out, files)
    except OutputLocationError as error:
        raise CompareError(str(error)) from None


def _existing_results(path: Path) -> list[Path]:
    try:
        return _result_files(path)
    except CompareError:
        return [path]


def format_comparison(result: dict[str, Any]) -> str:
    lines = [f"A = {result['a']}", f"B = {result['b']}", ""]
    head = f"{'dataset':<10} {'metric':<14} {'n':>4} {'A':>9} {'B':>9} {'B - A':>9} {'95% CI (bootstrap)':>22} {'p (Wilcoxon)':>13}"
    lines += [head, "-" * len(head)]
    for name, metrics in result["datasets"].items():
        protocol = get_protocol(name) if name in ("SumMe", "TVSum", "MrHiSum") else None
        for metric, s in metrics.items():
            header = protocol.metric(metric).header if protocol else metric
            p = "n/a" if s["p_wilcoxon"] is None else f"{s['p_wilcoxon']:.4f}"
            interval = f"[{s['ci95'][0]:+.3f}, {s['ci95'][1]:+.3f}]"
            lines.append(f"{name:<10} {header:<14} {s['n']:>4} {s['mean_a']:>9.3f} {s['mean_b']:>9.3f} "
                         f"{s['difference']:>+9.3f} {interval:>22} {p:>13}")
    return "\n".join(lines)


#: Enough for a stable 95 % interval many times over; each resample holds one index per video in memory.
MAX_RESAMPLES = 1_000_000


def main(argv=None) -> int:
    from storage.stopping import run_until_stopped

    return run_until_stopped(lambda: _main(argv), "nothing was written")


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.compare",
                                     description="Compare two inference.py results video by video (paired).")
    parser.add_argument("a", type=Path, help="inference.py's JSON (or a folder of runs' inference.json)")
    parser.add_argument("b", type=Path, help="the other method's, scored on the same videos")
    parser.add_argument("--out", type=Path, default=None, help="write the comparison to this JSON file")
    parser.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples (default: 10000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default: 0)")
    args = parser.parse_args(argv)
    if not 1 <= args.resamples <= MAX_RESAMPLES:
        print(f"error: --resamples: expected 1 to {MAX_RESAMPLES:,}, got {args.resamples}", file=sys.stderr)
        return 2
    if args.seed < 0:
        print(f"error: --seed: expected an integer >= 0, got {args.seed}", file=sys.stderr)
        return 2
    try:
        if args.out is not None:
            _check_out(args.out, [args.a, args.b])
        result = compare(args.a, args.b, resamples=args.resamples, seed=args.seed)
    except CompareError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_comparison(result))
    if args.out is not None:
        try:
            write_json_atomically(args.out, result, create_folders=False)
        except OSError as error:
            print(f"error: {args.out}: cannot be written ({error.strerror or error})", file=sys.stderr)
            return 2
        print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
