"""Scoring saved weights as ``inference.py`` does: where the results and their page go (checked before any
scoring), every split's checkpoint scored on its test videos with its table, the random-scores baseline and
performance over random, the final table, and the results JSON and its page written together.
"""

from __future__ import annotations

import sys
from pathlib import Path

from config import Config


def check_result_paths(out: Path) -> Path:
    """The page beside the results JSON ``out``; a ``ValueError`` naming the problem, before any scoring, when
    either must not be written (a folder, a file this command did not write, a folder that takes no files)."""
    from storage.files import check_output_folder, page_written_by

    page = report_path(out)
    if out.is_dir():
        raise ValueError(f"--out: {out} is a folder; give the path of the results JSON")
    if out.name == "report.html":
        raise ValueError(f"--out: {out} is the name of the page written beside the results JSON; choose "
                         f"another name")
    if out.suffix.lower() != ".json":
        raise ValueError(f"--out: {out}: the results are JSON; give a path ending in .json")
    if out.name != "inference.json" and page.name == "report.html":
        raise ValueError(f"--out: {out}: its page would be report.html, the page of inference.json in that "
                         f"folder; choose another name")
    if out.is_file() and not _is_inference_result(out):
        raise ValueError(f"--out: {out} exists and is not a result of inference.py (a training log or "
                         f"summary?); it is left as it is; choose another file")
    if page.is_dir():
        raise ValueError(f"--out: {page}, the page written beside {out.name}, is a folder; choose another --out")
    if page.exists() and not page_written_by(page, "inference.py"):
        raise ValueError(f"--out: {page}, the page written beside {out.name}, exists and was not written by "
                         f"inference.py; it is left as it is; choose another --out")
    check_output_folder(out.parent)
    return page


def score_datasets(config: Config, *, demo: bool, use_record: bool, progress: bool = True) -> dict:
    """Every dataset's checkpoints scored split by split (each split's table printed as it is scored);
    ``progress``: bars while many videos are scored."""
    from model import build_model, describe_parameters
    from model.device import resolve_device
    from training.sources import dataset_sources

    device = resolve_device(config.device)
    specs = dataset_sources(config, demo)
    print(f"CSTA {config.model_name} on {device} — {describe_parameters(build_model(config, pretrained=False))}")
    return {spec.name: score_dataset(config, spec, use_record=use_record, device=device, progress=progress)
            for spec in specs}


def score_dataset(config: Config, spec, *, use_record: bool, device, progress: bool = False) -> dict:
    """One dataset's checkpoints on their splits' test videos (a table per split), their means over the splits,
    the random-scores baseline and performance over random: the dataset's entry of the results JSON."""
    from evaluation.over_random import performance_over_random
    from model import build_model
    from storage.checkpoints import (checkpoint_paths, config_for_checkpoint, load_checkpoint, load_model_weights,
                                     read_record)
    from training.curves import checkpoint_picture
    from training.data import load_bundle
    from training.report import table
    from training.scoring import score_split

    bundle = load_bundle(spec, streaming=config.streaming, exclude_invalid=config.exclude_invalid_videos,
                         training=False)
    protocol = bundle.protocol
    columns = list(protocol.metrics)
    for split in config.splits:
        bundle.split(split)                             # every asked split exists, before any checkpoint is read
    splits = {}
    for split in config.splits:
        weights_path, record_path = checkpoint_paths(config.weights_dir, spec.name, split)
        state = load_checkpoint(weights_path)
        split_config = config_for_checkpoint(config, read_record(record_path) if use_record else None, record_path)
        load_model_weights(build_model(split_config, pretrained=False), state, weights_path,
                           f"{split_config.model_name} with these options")
        videos = score_split(split_config, bundle, split, state, device=device, progress=progress)
        per_video = {v.key: v.metrics for v in videos}
        means = protocol.means(per_video.values())
        record = read_record(record_path) or {}
        warn_when_the_split_changed(record, record_path, bundle.splits[split - 1])
        picture, no_picture = checkpoint_picture(record, config.results_dir)
        splits[split] = {"weights": str(weights_path), "videos": per_video, "mean": means,
                         "selected_epoch": record.get("selected_epoch"),
                         "curves": str(picture) if picture else None, "no_curves": no_picture,
                         "selected_on": record.get("select_on", "test (the original's protocol)")}
        rows = [(key, *(protocol.metric(c).format(v[c]) for c in columns), v["summary_frames"])
                for key, v in per_video.items()]
        rows.append(("mean", *(protocol.metric(c).format(means[c]) for c in columns), ""))
        print()
        print(table(("video", *(protocol.headers[c] for c in columns), "summary frames"), rows,
                    title=f"[{spec.name} split {split}] {weights_path} (epoch selected on "
                          f"{splits[split]['selected_on']} videos)"
                          + (f"; {bundle.used} videos used, the invalid ones left out" if bundle.excluded else "")))
    final = {key: sum(s["mean"][key] for s in splits.values()) / len(splits) for key in columns}
    final["f1"] = final[protocol.f1]
    by_split = random_baseline_by_split(bundle, config.splits, progress=progress)
    baseline = {key: sum(m[key] for m in by_split.values()) / len(by_split) for key in next(iter(by_split.values()))}
    over_random = performance_over_random({k: s["mean"]["f1"] for k, s in splits.items()},
                                          {k: m["f1"] for k, m in by_split.items()})
    return {"h5": str(spec.h5_path), "protocol": protocol.name, "f1_convention": protocol.f1, "splits": splits,
            "final": final, "random_scores": baseline, "random_scores_by_split": by_split,
            "performance_over_random": over_random,
            **({"videos_used": bundle.used, "excluded_videos": bundle.excluded} if bundle.excluded else {})}


def warn_when_the_split_changed(record: dict, record_path: Path, split) -> None:
    """One warning when the checkpoint was trained on a split whose videos are not the ones scored now, or when
    its record cannot show which videos it was trained on (a record of an earlier release). A checkpoint
    without a record (the original authors') is scored on the command line's word."""
    if not record:
        return
    recorded = record.get("split_videos")
    if not isinstance(recorded, dict):
        print(f"warning: {record_path}: does not name the videos this checkpoint was trained on (written by an "
              f"earlier release); whether the test videos scored now were held out cannot be checked; "
              f"`python train.py --resume` trains the split again", file=sys.stderr)
        return
    trained_on = set(recorded.get("train", [])) | set(recorded.get("validation", []))
    leaked = sorted(set(split.test_keys) & trained_on)
    if leaked:
        print(f"warning: {record_path}: {len(leaked)} of the {len(split.test_keys)} test videos scored now were "
              f"training or validation videos of this checkpoint (e.g. {leaked[0]!r}): the split file, or the "
              f"videos left out, changed; these numbers are not a test", file=sys.stderr)
    elif sorted(recorded.get("test", [])) != sorted(split.test_keys):
        print(f"warning: {record_path}: the test videos scored now are not those the checkpoint was trained "
              f"beside (the split file, or the videos left out, changed)", file=sys.stderr)


def report_path(out: Path) -> Path:
    """The page written beside the results: ``report.html`` beside ``inference.json``, else ``NAME.html``
    beside ``NAME.json`` (two results in one folder keep a page each)."""
    return out.with_name("report.html") if out.name == "inference.json" else out.with_suffix(".html")


def _is_inference_result(path: Path) -> bool:
    """Whether an existing file is what this command writes (it may be replaced); anything else, every input
    included (an h5, a split file, a description, a checkpoint, its record), is kept."""
    import json

    from storage.files import read_input_text

    try:
        data = json.loads(read_input_text(path, "results file"))
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and set(data) == {"config", "datasets"}


def random_baseline_by_split(bundle, splits, draws: int = 20, seed: int = 0, progress: bool = False) -> dict:
    """Each split's test videos scored with uniform random scores (mean of ``draws`` draws): the level to beat."""
    import numpy as np

    from training.curves import random_level

    rng = np.random.default_rng(seed)
    return {split: random_level(bundle, bundle.split(split).test, draws, rng=rng, progress=progress,
                                desc=f"{bundle.name} split {split}: random scores") for split in splits}


def random_baseline(bundle, splits, draws: int = 20, seed: int = 0) -> dict:
    """The random-scores baseline averaged over the splits."""
    by_split = random_baseline_by_split(bundle, splits, draws, seed)
    return {key: float(sum(m[key] for m in by_split.values()) / len(by_split)) for key in next(iter(by_split.values()))}


def final_table(results: dict, splits) -> str:
    """Every dataset's means over its splits, and the random-scores baseline, in the columns its protocol reports."""
    from evaluation.protocols import get_protocol
    from training.report import table

    protocols = {name: get_protocol(r["protocol"]) for name, r in results.items()}
    columns = list(dict.fromkeys(c for protocol in protocols.values() for c in protocol.reported))
    headers = [next("F1 (%)" if c == "f1" else p.metric(c).header for p in protocols.values() if c in p.reported)
               for c in columns]
    rows = []
    for name, r in results.items():
        protocol = protocols[name]
        label_of = f"{name} ({r['videos_used']} videos)" if r.get("videos_used") else name
        for label, values in ((label_of, r["final"]), ("  random scores (mean of 20 draws)", r["random_scores"])):
            por = r.get("performance_over_random", {}).get("mean") if values is r["final"] else None
            rows.append((label, *(protocol.metric(c).format(values[c]) if c in protocol.reported else ""
                                  for c in columns), "" if por is None else f"{por:.1f}",
                         protocol.f1_meaning if values is r["final"] else ""))
    return table(("FINAL", *headers, "PoR (%)", "F1"), rows,
                 title=f"Mean over splits {', '.join(map(str, splits))}; PoR: performance over random "
                       f"(Apostolidis et al., ACM MM 2020), each split's F1 over the random scores' F1, in %")


def write_results(out: Path, page: Path, config: Config, results: dict) -> None:
    """The results JSON and its page, both or neither."""
    from storage.files import json_text, replace_together
    from training.results_page import results_page

    data = {"config": config.to_dict(), "datasets": results}
    text = results_page(results, config.results_dir, config.to_dict(), json_name=out.name)
    replace_together({out: lambda file: file.write(json_text(data)),
                      page: lambda file: file.write(text)}, mode="w")
