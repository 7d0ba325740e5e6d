"""A training run as ``train.py`` starts it: which datasets, splits and runs, the checks before any training,
each split trained and saved (in this process, in worker processes with ``--jobs``, or on every rank under
``torchrun``), and the tables, summaries and figures of the splits and of the runs.

Checkpoints: WEIGHTS_DIR/{dataset}/split{k}.pt with a JSON record beside each; per-epoch logs:
RESULTS_DIR/{dataset}_split{k}.jsonl and their curves beside them; RESULTS_DIR/train_summary.json per run, and
with ``--runs K`` RESULTS_DIR/runs_summary.json and RESULTS_DIR/{dataset}_runs.png.

Runs of different splits may write into the same folders at once (one torchrun or SLURM task per group of
splits): each split's files are locked (``training.lock``), and the folder-wide summaries are merged, under a
short lock, with those the other runs of the same training options wrote there.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

from config import Config


def run_directories(config: Config, run: int) -> Config:
    """With --runs K, each run writes its own weights and logs (run1_seed123456, run2_seed123457, ...)."""
    if config.runs == 1:
        return config
    seed = config.seed + run
    name = f"run{run + 1}_seed{seed}"
    return dataclasses.replace(config, seed=seed, runs=1, weights_dir=str(Path(config.weights_dir) / name),
                               results_dir=str(Path(config.results_dir) / name),
                               tensorboard=str(Path(config.tensorboard) / name) if config.tensorboard else "")


def split_log_path(results_dir: str, dataset: str, split: int) -> Path:
    """A split's per-epoch log: ``RESULTS_DIR/{dataset}_split{k}.jsonl``."""
    return Path(results_dir) / f"{dataset}_split{split}.jsonl"


def split_videos(split) -> dict[str, list[str]]:
    """A split's videos as its split file names them, kept in the record (``--resume`` compares them)."""
    return {"train": list(split.train_keys), "validation": list(split.val_keys), "test": list(split.test_keys)}


def train(config: Config, *, demo: bool = False, resume: bool = False, progress: bool = True) -> int:
    """The whole of ``python train.py``: check the inputs and outputs, take the run lock, train every run's
    splits and print their tables; returns the exit status (0 done, 2 bad input or environment)."""
    import dataset as eccv16
    from model import PretrainedWeightsUnavailable, build_model, describe_parameters
    from model.device import resolve_device
    from storage.files import describe_write_error
    from training import load_bundle
    from training.distributed import PeerTimeout, World
    from training.lock import LockError, RunLock, summary_lock
    from training.sources import dataset_sources

    world = World.from_environment(config.device, timeout_seconds=config.collective_timeout)
    specs = []
    try:
        if world.distributed and config.jobs > 1:
            raise ValueError("jobs: with torchrun every rank trains the same split; run one torchrun per group "
                             "of splits (--splits) to train several at once")
        if config.tensorboard:
            from training.tensorboard import missing_package

            reason = missing_package()
            if reason:
                raise ValueError(reason)
        specs = dataset_sources(config, demo)
        bundles = {spec.name: load_bundle(spec, streaming=config.streaming,                    # all checked first
                                          exclude_invalid=config.exclude_invalid_videos) for spec in specs}
        for bundle in bundles.values():
            missing = [k for k in config.splits if k > len(bundle.splits)]
            if missing:
                raise ValueError(f"splits: {bundle.spec.splits_path} has {len(bundle.splits)} split(s), "
                                 f"not split {missing[0]}")
            for split in config.splits:
                bundle.split(split)                 # each split has its videos (some may have been left out)
        device = resolve_device(world.device_name(config.device))
        model = build_model(config)             # ImageNet weights load, or are refused, before any folder is made
        if world.is_main:
            check_outputs(model, config, specs)
        if resume:
            check_progress_files(config, specs)
    except (eccv16.DatasetError, RuntimeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        if isinstance(error, eccv16.DatasetError) and not demo and not _exists(error.path):
            hints = [s.hint for s in specs if s.hint]
            if hints and hints[0] not in str(error):
                print(hints[0], file=sys.stderr)
            print("To try everything without the datasets: python train.py --demo", file=sys.stderr)
        failed = True
    else:
        failed = False
    lock = RunLock(*run_locks(config, specs)) if world.is_main and not failed else None
    try:
        if lock is not None:
            lock.__enter__()
    except (LockError, OSError) as error:
        print(f"error: {error if isinstance(error, LockError) else describe_write_error(error)}", file=sys.stderr)
        lock, failed = None, True
    if world.distributed:               # rank 0 alone checks the outputs and takes the lock: every rank stops with it
        try:
            failed = any(world.gather_objects([failed]))
        except PeerTimeout as error:
            print(f"error: {error}", file=sys.stderr)
            failed = True
    if failed:
        if lock is not None:
            lock.release()
        world.close()
        return 2
    try:
        if world.is_main:
            print(f"CSTA {config.model_name} on {device}"
                  f"{f' x {world.size} ranks ({world.backend})' if world.distributed else ''} — "
                  f"{describe_parameters(model)}")
            print(f"datasets {', '.join(s.name for s in specs)}; splits {', '.join(map(str, config.splits))}; "
                  f"{config.epochs} epochs; seed {config.seed}; weights -> {config.weights_dir}")
        started = time.perf_counter()
        protocols = {name: bundle.protocol for name, bundle in bundles.items()}
        for run in range(config.runs):
            run_config = run_directories(config, run)
            if config.runs > 1 and world.is_main:
                print(f"\nrun {run + 1}/{config.runs} (seed {run_config.seed})")
            results = train_run(run_config, specs, bundles, resume=resume, progress=progress, world=world)
            if world.is_main:
                print_summary(results, protocols, run_config.select_on == "validation",
                              {name: bundle.used for name, bundle in bundles.items()})
                with summary_lock(run_config.results_dir):
                    write_train_summary(run_config, results, protocols)
    except (eccv16.DatasetError, PretrainedWeightsUnavailable, ValueError, PeerTimeout) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {describe_write_error(error)}", file=sys.stderr)
        return 2
    finally:
        if lock is not None:
            lock.release()
        world.close()
    if world.is_main:
        if config.runs > 1:
            with summary_lock(config.results_dir):        # every run's summary as the folder holds it now
                per_run_splits, names = [], [s.name for s in specs]
                for run in range(config.runs):
                    splits, kept = read_train_summary(run_directories(config, run), protocols)
                    per_run_splits.append(splits)
                    protocols = {**kept, **protocols}
                    names += [name for name in splits if name not in names]
                per_run = [final_means(splits, protocols) for splits in per_run_splits]
                print_runs(per_run, config, names, per_run_splits)
                runs_pictures(per_run_splits, config, protocols, bundles)
        print(f"\ntrained in {time.perf_counter() - started:.0f} s; score the checkpoints with "
              f"`python inference.py{' --demo' if demo else ''}`")
    return 0


def run_locks(config: Config, specs) -> tuple[list[str], list[tuple[str, str, int]]]:
    """What a run locks (``training.lock.RunLock``): the folders it writes into, which runs of other splits share,
    and in each run's folders every split it trains, which is its alone."""
    folders = [config.weights_dir, config.results_dir, *([config.tensorboard] if config.tensorboard else [])]
    splits = []
    for run in range(config.runs):
        run_config = run_directories(config, run)
        for folder in (run_config.weights_dir, run_config.results_dir,
                       *([run_config.tensorboard] if run_config.tensorboard else [])):
            splits += [(folder, spec.name, split) for spec in specs for split in config.splits]
    return folders, splits


def usable_cpus() -> int:
    """The CPUs this process may run on (a SLURM allocation, ``taskset``), else every CPU of the machine."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):                     # not on Linux
        return os.cpu_count() or 1


#: A run's summary in its results folder: its splits and those other runs of the same training options wrote.
TRAIN_SUMMARY = "train_summary.json"


def write_train_summary(config: Config, results: dict[str, dict[int, dict]], protocols: dict) -> dict:
    """``RESULTS_DIR/train_summary.json``: this run's splits merged with those of earlier runs of the same
    training options into the same weights folder (runs of other splits, at once or before), their means and
    spread; a summary of other options is replaced. Call it holding ``training.lock.summary_lock``. Returns
    the splits it holds."""
    from storage.checkpoints import training_fingerprint
    from storage.files import write_json_atomically

    merged, earlier = read_train_summary(config, protocols)
    for dataset, splits in results.items():
        merged.setdefault(dataset, {}).update(splits)
    merged = {dataset: dict(sorted(splits.items())) for dataset, splits in merged.items() if splits}
    protocols = {**earlier, **protocols}
    write_json_atomically(Path(config.results_dir) / TRAIN_SUMMARY, {
        "config": config.to_dict(), "fingerprint": training_fingerprint(config),
        "weights_dir": str(Path(config.weights_dir).resolve()),
        "protocols": {dataset: protocols[dataset].name for dataset in merged},
        "splits": merged, "final": final_means(merged, protocols), "split_spread": split_spread(merged, protocols)})
    return merged


def read_train_summary(config: Config, protocols: dict) -> tuple[dict[str, dict[int, dict]], dict]:
    """The splits ``RESULTS_DIR/train_summary.json`` holds when runs of ``config``'s training options into its
    weights folder wrote it, and the protocols of its datasets; nothing for a summary of other options, of an
    earlier release (without a fingerprint) or that cannot be read."""
    import json

    from evaluation.protocols import get_protocol
    from storage.checkpoints import training_fingerprint

    try:
        data = json.loads((Path(config.results_dir) / TRAIN_SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}, {}
    if (not isinstance(data, dict) or not isinstance(data.get("splits"), dict)
            or not isinstance(data.get("protocols"), dict)
            or data.get("fingerprint") != json.loads(json.dumps(training_fingerprint(config)))
            or data.get("weights_dir") != str(Path(config.weights_dir).resolve())):
        return {}, {}
    splits, kept = {}, {}
    for dataset, by_split in data["splits"].items():
        try:
            protocol = protocols.get(dataset) or get_protocol(data["protocols"][dataset])
        except (KeyError, TypeError, ValueError):
            continue
        entries = {int(k): m for k, m in by_split.items() if str(k).isdigit() and _is_split_entry(m, protocol)} \
            if isinstance(by_split, dict) else {}
        if entries:
            splits[dataset], kept[dataset] = entries, protocol
    return splits, kept


def _is_split_entry(metrics, protocol) -> bool:
    return isinstance(metrics, dict) and isinstance(metrics.get("epoch"), int) and all(
        isinstance(metrics.get(c), (int, float)) and not isinstance(metrics.get(c), bool) for c in protocol.reported)


def final_means(results: dict[str, dict[int, dict]], protocols: dict) -> dict[str, dict]:
    """Each dataset's mean over its splits of every metric its protocol reports."""
    return {dataset: {c: sum(m[c] for m in splits.values()) / len(splits) for c in protocols[dataset].reported}
            for dataset, splits in results.items() if splits}


def output_space(model, config: Config, n_checkpoints: int) -> int:
    """Bytes a run needs in its weights folder: every checkpoint, plus two progress files while one replaces the other.

    A checkpoint is the model's state dict; a progress file holds the model, Adam's two moments and
    the best epoch's weights (about four state dicts).
    """
    state_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    progress = 2 * 4 * state_bytes if config.progress_every else 0
    return n_checkpoints * state_bytes + progress + (1 << 20)


def check_outputs(model, config: Config, specs) -> None:
    """Every folder the run writes into exists or can be made, takes files and has room, before any training."""
    from storage.files import OutputLocationError, check_output_folder
    from training.curves import runs_picture_path, split_picture_path
    from training.tensorboard import run_folder

    n_checkpoints = len(specs) * len(config.splits) * config.runs
    check_output_folder(config.weights_dir, output_space(model, config, n_checkpoints),
                        f"{n_checkpoints} checkpoint(s) and the progress files")
    for spec in specs:
        check_output_folder(Path(config.weights_dir) / spec.name)
    check_output_folder(config.results_dir, 1 << 20, "the logs")
    if config.tensorboard:
        check_output_folder(config.tensorboard, 1 << 20, "the TensorBoard event files")
    files = [runs_picture_path(config.results_dir, spec.name) for spec in specs if config.runs > 1]
    for run in range(config.runs):
        run_config = run_directories(config, run)
        for spec in specs:
            for split in config.splits:
                files += [split_picture_path(run_config.results_dir, spec.name, split),
                          split_log_path(run_config.results_dir, spec.name, split)]
                if config.tensorboard:
                    check_output_folder(run_folder(run_config.tensorboard, spec.name, split))
    for path in files:
        if path.is_dir():
            raise OutputLocationError(f"{path}: is a folder; the run writes a file there")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:                                 # a name too long for the file system
        return False


def check_progress_files(config: Config, specs) -> None:
    """Refuse, before any training, a progress file that would run code (``storage.checkpoints.UnsafeFile``).

    Damaged files and files of other options are left to the split itself, which says what it does.
    """
    from storage.checkpoints import DamagedProgress, progress_path, read_progress_file

    for run in range(config.runs):
        run_config = run_directories(config, run)
        for spec in specs:
            for split in config.splits:
                path = progress_path(run_config.weights_dir, spec.name, split)
                if path.is_file():
                    try:
                        read_progress_file(path)
                    except DamagedProgress:
                        pass


def train_run(config: Config, specs, bundles, *, resume: bool, progress: bool, world=None) -> dict[str, dict[int, dict]]:
    """Every requested split of every dataset; returns the kept epochs' metrics (on the test videos)."""
    import multiprocessing

    import torch
    from tqdm.auto import tqdm

    from storage.checkpoints import checkpoint_paths, read_record, split_is_finished, training_fingerprint
    from training.distributed import World

    world = world or World()
    fingerprint = training_fingerprint(config)
    tasks, results = [], {spec.name: {} for spec in specs}
    for spec in specs:
        for split in config.splits:
            if resume and split_is_finished(config.weights_dir, spec.name, split, fingerprint,
                                            split_videos(bundles[spec.name].splits[split - 1]), note=world.is_main):
                record = read_record(checkpoint_paths(config.weights_dir, spec.name, split)[1])
                results[spec.name][split] = {**record["metrics"], **(record.get("test_metrics") or {}),
                                             "epoch": record["selected_epoch"]}
                if world.is_main:
                    print(f"{spec.name} split {split}: finished earlier (epoch {record['selected_epoch']}), skipped")
            else:
                tasks.append((spec, split))
    if not tasks:
        return results
    bar = tqdm(total=len(tasks), desc="splits", unit="split", disable=not progress or not world.is_main,
               position=0, dynamic_ncols=True)
    if config.jobs == 1:
        for spec, split in tasks:
            name, split, metrics, seconds = train_and_save(config, spec, split, world.device_name(config.device),
                                                           progress, 1, bundle=bundles[spec.name], resume=resume,
                                                           world=world)
            results[name][split] = metrics
            bar.update(1)
            if world.is_main:
                bar.write(_split_line(name, split, metrics, seconds))
    else:
        threads = max(1, usable_cpus() // config.jobs)
        context = multiprocessing.get_context("spawn")
        with context.Pool(processes=min(config.jobs, len(tasks)), initializer=_leave_interrupts_to_the_parent) as pool:
            pending = [pool.apply_async(train_and_save, (config, spec, split, worker_device(config, i, torch),
                                                         False, 0, threads, None, resume))
                       for i, (spec, split) in enumerate(tasks)]
            for job in pending:
                name, split, metrics, seconds = job.get()
                results[name][split] = metrics
                bar.update(1)
                bar.write(_split_line(name, split, metrics, seconds))
    bar.close()
    return results


def _leave_interrupts_to_the_parent() -> None:
    """Ctrl-C reaches every process of the terminal; the parent alone answers it (and ends the workers). The
    parent has also said every dataset file's notes: a worker reading the file again keeps them to itself."""
    import signal
    import warnings

    from dataset import DatasetNotice

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warnings.filterwarnings("ignore", category=DatasetNotice)


def worker_device(config: Config, index: int, torch) -> str:
    """With several GPUs, one split per GPU in turn; otherwise every worker shares the configured device."""
    if config.device in ("auto", "cuda") and torch.cuda.is_available() and torch.cuda.device_count() > 1:
        return f"cuda:{index % torch.cuda.device_count()}"
    return config.device


def train_and_save(config: Config, spec, split: int, device_name: str, progress: bool, position: int,
                   threads: int | None = None, bundle=None, resume: bool = False, world=None):
    """Train one split and write its checkpoint; runs in this process or in a worker (which reads the data)."""
    import torch

    from model.device import resolve_device
    from storage.checkpoints import progress_path, save_checkpoint, training_fingerprint
    from training import library_versions, load_bundle, train_split
    from training.distributed import World

    world = world or World()
    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(device_name)
    bundle = bundle if bundle is not None else load_bundle(spec, streaming=config.streaming,
                                                           exclude_invalid=config.exclude_invalid_videos)
    as_in_the_file = bundle.splits[split - 1]            # the carve below follows from it and the seed
    if config.select_on == "validation":
        bundle = bundle.with_validation(config.validation_fraction, config.seed)
    log_path = split_log_path(config.results_dir, spec.name, split)
    resume_path = progress_path(config.weights_dir, spec.name, split)
    hooks, board = [], None
    if world.is_main:
        from training.curves import CurvesPicture, split_picture_path

        hooks.append(CurvesPicture(split_picture_path(config.results_dir, spec.name, split)))
        if config.tensorboard:
            from training.tensorboard import TensorBoardWriter

            board = TensorBoardWriter(config.tensorboard)
            hooks.append(board)
    outcome = train_split(config, bundle, split, device=device, log_path=log_path, progress=progress,
                          position=position, world=world, progress_path=resume_path, resume=resume, hooks=hooks)
    selected_by = "last epoch (no epoch passed the rule)" if outcome.fallback_to_last else config.selection
    if board is not None:
        board.end(outcome, selected_by)
    if world.is_main:
        record = {
            "dataset": spec.name, "split": split, "selected_epoch": outcome.best.epoch,
            "selected_by": selected_by,
            "metrics": outcome.best.as_dict(), "test_metrics": outcome.test, "protocol": bundle.protocol.name,
            "select_on": config.select_on if not bundle.splits[split - 1].val_keys or config.select_on == "validation"
            else "validation (the split file's)",
            "selection_videos": list(bundle.splits[split - 1].selection_keys),
            "split_videos": split_videos(as_in_the_file),
            **({"videos_used": bundle.used, "excluded_videos": sorted(bundle.excluded)} if bundle.excluded else {}),
            "seed": config.seed, "seconds": round(outcome.seconds, 2), "resumed_from_epoch": outcome.resumed_from,
            "device": str(device), "torch_threads": torch.get_num_threads(), "world_size": world.size,
            "backend": world.backend, "h5": str(spec.h5_path), "splits_file": str(spec.splits_path),
            "log": str(log_path), "fingerprint": training_fingerprint(config), "config": config.to_dict(),
            "versions": library_versions(),
        }
        save_checkpoint(config.weights_dir, spec.name, split, outcome.best_state, record)
        resume_path.unlink(missing_ok=True)
    reported = outcome.test or outcome.best.as_dict()
    return spec.name, split, {**outcome.best.as_dict(), **reported, "epoch": outcome.best.epoch}, outcome.seconds


def _split_line(dataset: str, split: int, metrics: dict, seconds: float) -> str:
    """The line printed when a split is finished."""
    return (f"{dataset} split {split}: epoch {metrics['epoch']} kept — tau {metrics['kendall']:.3f}, "
            f"rho {metrics['spearman']:.3f}, F1 {metrics['f1']:.1f} ({seconds:.0f} s)")


def print_summary(results: dict[str, dict[int, dict]], protocols: dict,
                  selected_on_validation: bool = False, used: dict[str, str] | None = None) -> dict[str, dict]:
    """Each dataset's table of its kept epochs (split by split, and their mean); returns the means.
    ``used``: per dataset, how many of how many videos were used when invalid ones were left out."""
    from training.report import table

    finals = {}
    for dataset, splits in results.items():
        if not splits:
            continue
        protocol = protocols[dataset]
        columns = protocol.reported
        headers = ["", "epoch", *(_header(protocol, c) for c in columns)]
        rows = [(f"split {k}", m["epoch"], *(protocol.metric(c).format(m[c]) for c in columns))
                for k, m in sorted(splits.items())]
        final = {key: sum(m[key] for m in splits.values()) / len(splits) for key in columns}
        rows.append(("mean", "", *(protocol.metric(c).format(final[c]) for c in columns)))
        print()
        counted = (used or {}).get(dataset)
        print(table(headers, rows, title=f"{dataset}: kept epochs on the test videos"
                    + (" (selected on validation videos)" if selected_on_validation else "")
                    + (f"; {counted} videos used, the invalid ones left out" if counted else "")))
        finals[dataset] = final
    return finals


def _header(protocol, metric: str) -> str:
    """A column's header; the literature's F1 is "F1 (%)" whatever the protocol calls it."""
    return "F1 (%)" if metric == "f1" else protocol.metric(metric).header


def split_spread(results: dict[str, dict[int, dict]], protocols: dict) -> dict:
    """How far a dataset's splits are apart: per reported metric, the std, min and max over its splits."""
    import numpy as np

    spread = {}
    for dataset, splits in results.items():
        if splits:
            spread[dataset] = {c: {"std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "min": float(min(v)),
                                   "max": float(max(v))}
                               for c in protocols[dataset].reported
                               for v in [[m[c] for m in splits.values()]]}
    return spread


def print_runs(per_run: list[dict[str, dict]], config: Config, names: list[str],
               per_run_splits: list[dict[str, dict[int, dict]]] | None = None) -> dict:
    """The runs' mean ± std with the 95 % interval of the mean (Student's t), and each split's spread over the runs."""
    from storage.files import write_json_atomically
    from training.report import mean_interval, table

    rows, summary, spread = [], {}, {}
    for dataset in names:
        stats = {key: mean_interval([run[dataset][key] for run in per_run if dataset in run])
                 for key in ("kendall", "spearman", "f1")}
        summary[dataset] = stats
        rows.append((dataset, *(f"{s['mean']:{f}} ± {s['std']:{f}} [{s['ci95'][0]:{f}}, {s['ci95'][1]:{f}}]"
                                for s, f in ((stats["kendall"], ".3f"), (stats["spearman"], ".3f"),
                                             (stats["f1"], ".1f")))))
        splits = sorted({k for run in per_run_splits or () for k in run.get(dataset, {})})
        spread[dataset] = {str(k): {key: mean_interval([run[dataset][k][key] for run in per_run_splits
                                                        if k in run.get(dataset, {})])
                                    for key in ("kendall", "spearman", "f1")} for k in splits}
    print()
    print(table(("", "Kendall tau", "Spearman rho", "F1 (%)"), rows,
                title=f"{config.runs} runs (seeds {config.seed}..{config.seed + config.runs - 1}): "
                      f"mean ± std [95% interval of the mean, Student t]"))
    for dataset in names:
        if spread[dataset]:
            cells = [(f"split {k}", *(f"{v[key]['mean']:.3f} ± {v[key]['std']:.3f}" for key in ("kendall", "spearman")),
                      f"{v['f1']['mean']:.1f} ± {v['f1']['std']:.1f}") for k, v in spread[dataset].items()]
            print()
            print(table(("", "Kendall tau", "Spearman rho", "F1 (%)"), cells,
                        title=f"{dataset}: each split over the runs, mean ± std"))
    result = {"seeds": [config.seed + i for i in range(config.runs)], "per_run": per_run,
              "mean_std": {d: {k: [v["mean"], v["std"]] for k, v in stats.items()} for d, stats in summary.items()},
              "mean_interval": summary, "per_split_over_runs": spread}
    write_json_atomically(Path(config.results_dir) / "runs_summary.json", result)
    return result


def runs_pictures(per_run_splits: list[dict[str, dict[int, dict]]], config: Config, protocols: dict,
                  bundles: dict | None = None) -> None:
    """``RESULTS_DIR/{dataset}_runs.png``: each dataset's splits (kept epochs, test videos) over the runs, with the
    random-scores level on the same test videos and, for the TVSum protocol, the annotators' agreement."""
    from storage.files import describe_write_error
    from training.curves import random_level, runs_figure, runs_picture_path

    seeds = [config.seed + i for i in range(config.runs)]
    for dataset, protocol in protocols.items():
        target = runs_picture_path(config.results_dir, dataset)
        random, human = None, None
        if bundles and dataset in bundles:
            bundle = bundles[dataset]
            splits = sorted({k for run in per_run_splits for k in run.get(dataset, {})})
            tests = [record for split in splits for record in bundle.split(split).test]
            random = random_level(bundle, tests)
            random["f1"] = random[protocol.f1]
            if protocol.needs_annotations and bundle.annotations is not None:
                from evaluation.human_agreement import human_agreement

                tau, rho, _ = human_agreement({r.key.rsplit("/", 1)[-1]: bundle.annotations_for(r.key) for r in tests})
                human = {"kendall": tau, "spearman": rho}
        try:
            runs_figure(target, dataset, protocol, [run.get(dataset, {}) for run in per_run_splits], seeds,
                        random=random, human=human)
        except OSError as error:
            print(f"warning: {describe_write_error(error)}", file=sys.stderr)
            continue
        print(f"{dataset} over the runs: {target}")
