"""Train CSTA on SumMe and TVSum, 5 splits each, as the paper does.

    python train.py                      # the paper's protocol on data/eccv16_dataset_*.h5
    python train.py --demo               # a few minutes on a CPU, on generated data
    python train.py --datasets SumMe --splits 1 2 --epochs 50 --resume

Checkpoints: WEIGHTS_DIR/{SumMe,TVSum}/split{k}.pt (plain state dicts the original code reads) with a
JSON record beside each; per-epoch logs: RESULTS_DIR/{dataset}_split{k}.jsonl.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

import dataset as eccv16
from config import Config
from model import PretrainedWeightsUnavailable, build_model, describe_parameters
from training import (library_versions, load_bundle, resolve_device, save_checkpoint, split_is_finished,
                      train_split, training_fingerprint)
from evaluation.files import write_json_atomically
from training.checkpoints import checkpoint_paths, read_record
from training.report import f1_percent, mean_and_std, table
from training.sources import config_from_arguments, dataset_sources


def parse_arguments(argv=None) -> tuple[Config, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", action="store_true",
                        help="train on a small generated dataset (no downloads, no ImageNet weights)")
    parser.add_argument("--resume", action="store_true",
                        help="skip splits whose checkpoint and record were written with the same options")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    Config.add_arguments(parser)
    args = parser.parse_args(argv)
    return config_from_arguments(parser, args), args


def run_directories(config: Config, run: int) -> Config:
    """With --runs K, each run writes its own weights and logs (run1_seed123456, run2_seed123457, ...)."""
    if config.runs == 1:
        return config
    seed = config.seed + run
    name = f"run{run + 1}_seed{seed}"
    return dataclasses.replace(config, seed=seed, runs=1, weights_dir=str(Path(config.weights_dir) / name),
                               results_dir=str(Path(config.results_dir) / name))


def _load(source):
    return load_bundle(source.name, h5_path=source.h5_path, splits_path=source.splits_path,
                       annotations=source.annotations_path)


def _train_and_save(config: Config, source, split: int, device_name: str, progress: bool, position: int,
                    threads: int | None = None, bundle=None):
    """Train one split and write its checkpoint; runs in this process or in a worker (which reads the data)."""
    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(device_name)
    bundle = bundle if bundle is not None else _load(source)
    log_path = Path(config.results_dir) / f"{source.name}_split{split}.jsonl"
    outcome = train_split(config, bundle, split, device=device, log_path=log_path, progress=progress,
                          position=position)
    record = {
        "dataset": source.name, "split": split, "selected_epoch": outcome.best.epoch,
        "selected_by": "last epoch (no epoch passed the rule)" if outcome.fallback_to_last else config.selection,
        "metrics": outcome.best.as_dict(), "seed": config.seed, "seconds": round(outcome.seconds, 2),
        "device": str(device), "torch_threads": torch.get_num_threads(), "h5": str(source.h5_path),
        "log": str(log_path),
        "fingerprint": training_fingerprint(config), "config": config.to_dict(), "versions": library_versions(),
    }
    save_checkpoint(config.weights_dir, source.name, split, outcome.best_state, record)
    return source.name, split, outcome.best.as_dict(), outcome.seconds


def train_run(config: Config, sources, bundles, *, resume: bool, progress: bool) -> dict[str, dict[int, dict]]:
    """Every requested split of every dataset; returns the selected epochs' metrics."""
    fingerprint = training_fingerprint(config)
    tasks, results = [], {source.name: {} for source in sources}
    for source in sources:
        for split in config.splits:
            if resume and split_is_finished(config.weights_dir, source.name, split, fingerprint):
                record = read_record(checkpoint_paths(config.weights_dir, source.name, split)[1])
                results[source.name][split] = record["metrics"]
                print(f"{source.name} split {split}: finished earlier (epoch {record['selected_epoch']}), skipped")
            else:
                tasks.append((source, split))
    if not tasks:
        return results
    bar = tqdm(total=len(tasks), desc="splits", unit="split", disable=not progress, position=0, dynamic_ncols=True)
    if config.jobs == 1:
        for source, split in tasks:
            name, split, metrics, seconds = _train_and_save(config, source, split, config.device, progress, 1,
                                                            bundle=bundles[source.name])
            results[name][split] = metrics
            bar.update(1)
            bar.write(_split_line(name, split, metrics, seconds))
    else:
        threads = max(1, (os.cpu_count() or 1) // config.jobs)
        context = multiprocessing.get_context("spawn")
        with context.Pool(processes=min(config.jobs, len(tasks))) as pool:
            pending = [pool.apply_async(_train_and_save, (config, source, split, _worker_device(config, i),
                                                          False, 0, threads))
                       for i, (source, split) in enumerate(tasks)]
            for job in pending:
                name, split, metrics, seconds = job.get()
                results[name][split] = metrics
                bar.update(1)
                bar.write(_split_line(name, split, metrics, seconds))
    bar.close()
    return results


def _worker_device(config: Config, index: int) -> str:
    """With several GPUs, one split per GPU in turn; otherwise every worker shares the configured device."""
    if config.device in ("auto", "cuda") and torch.cuda.is_available() and torch.cuda.device_count() > 1:
        return f"cuda:{index % torch.cuda.device_count()}"
    return config.device


def _split_line(dataset: str, split: int, metrics: dict, seconds: float) -> str:
    return (f"{dataset} split {split}: epoch {metrics['epoch']} kept — tau {metrics['kendall']:.3f}, "
            f"rho {metrics['spearman']:.3f}, F1 {metrics['f1']:.1f} ({seconds:.0f} s)")


def print_summary(results: dict[str, dict[int, dict]]) -> dict[str, dict]:
    finals = {}
    for dataset, splits in results.items():
        if not splits:
            continue
        rows = [(f"split {k}", m["epoch"], m["kendall"], m["spearman"], f1_percent(m["f1"]))
                for k, m in sorted(splits.items())]
        final = {key: sum(m[key] for m in splits.values()) / len(splits) for key in ("kendall", "spearman", "f1")}
        rows.append(("mean", "", final["kendall"], final["spearman"], f1_percent(final["f1"])))
        print()
        print(table(("", "epoch", "Kendall tau", "Spearman rho", "F1 (%)"), rows,
                    title=f"{dataset}: selected epochs on the test videos"))
        finals[dataset] = final
    return finals


def main(argv=None) -> int:
    config, args = parse_arguments(argv)
    try:
        sources = dataset_sources(config, args.demo)
        bundles = {source.name: _load(source) for source in sources}   # every file checked before training
        device = resolve_device(config.device)
        model = build_model(config, pretrained=False)
    except (eccv16.DatasetError, RuntimeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        if isinstance(error, eccv16.DatasetError) and not args.demo and not error.path.exists():
            print("To try everything without the datasets: python train.py --demo", file=sys.stderr)
        return 2
    print(f"CSTA {config.model_name} on {device} — {describe_parameters(model)}")
    print(f"datasets {', '.join(config.datasets)}; splits {', '.join(map(str, config.splits))}; "
          f"{config.epochs} epochs; seed {config.seed}; weights -> {config.weights_dir}")
    started = time.perf_counter()
    per_run = []
    try:
        for run in range(config.runs):
            run_config = run_directories(config, run)
            if config.runs > 1:
                print(f"\nrun {run + 1}/{config.runs} (seed {run_config.seed})")
            results = train_run(run_config, sources, bundles, resume=args.resume, progress=not args.quiet)
            per_run.append(print_summary(results))
            write_json_atomically(Path(run_config.results_dir) / "train_summary.json",
                                  {"config": run_config.to_dict(), "splits": results, "final": per_run[-1]})
    except (eccv16.DatasetError, PretrainedWeightsUnavailable, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if config.runs > 1:
        print_runs(per_run, config)
    print(f"\ntrained in {time.perf_counter() - started:.0f} s; score the checkpoints with "
          f"`python inference.py{' --demo' if args.demo else ''}`")
    return 0


def print_runs(per_run: list[dict[str, dict]], config: Config) -> None:
    rows, summary = [], {}
    for dataset in config.datasets:
        stats = {key: mean_and_std([run[dataset][key] for run in per_run if dataset in run])
                 for key in ("kendall", "spearman", "f1")}
        summary[dataset] = stats
        rows.append((dataset, *(f"{m:.3f} ± {s:.3f}" for m, s in (stats["kendall"], stats["spearman"])),
                     f"{stats['f1'][0]:.1f} ± {stats['f1'][1]:.1f}"))
    print()
    print(table(("", "Kendall tau", "Spearman rho", "F1 (%)"), rows,
                title=f"{config.runs} runs (seeds {config.seed}..{config.seed + config.runs - 1}): mean ± std"))
    write_json_atomically(Path(config.results_dir) / "runs_summary.json",
                          {"seeds": [config.seed + i for i in range(config.runs)],
                           "per_run": per_run, "mean_std": summary})


if __name__ == "__main__":
    sys.exit(main())
