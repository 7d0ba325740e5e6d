"""Score saved CSTA weights on the test videos of every split: Kendall tau, Spearman rho and F1.

    python inference.py                      # weights/{SumMe,TVSum}/split{1..5}.pt (this project's or the authors')
    python inference.py --demo               # the checkpoints of `python train.py --demo`
    python inference.py --datasets TVSum --weights-dir path/to/weights --out results/tvsum.json

Per split: one row per test video and the split's means. Final: the mean over splits, as the paper reports.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

import dataset as eccv16
import evaluation
from config import Config
from model import build_model, describe_parameters
from training import load_bundle, load_checkpoint, resolve_device, score_split
from evaluation.files import write_json_atomically
from training.checkpoints import MissingCheckpoint, checkpoint_paths, read_record
from training.loop import evaluate_record
from training.report import f1_percent, table
from training.selection import F1_CONVENTION
from training.sources import config_from_arguments, dataset_sources



def parse_arguments(argv=None) -> tuple[Config, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", action="store_true", help="score the checkpoints of `python train.py --demo`")
    parser.add_argument("--out", type=Path, default=None,
                        help="results JSON (default: RESULTS_DIR/inference.json)")
    parser.add_argument("--options-from", choices=("checkpoint", "command-line"), default="checkpoint",
                        help="model options: from the JSON record beside each checkpoint when there is one "
                             "(default), or from the command line (checkpoints of the original code have no record)")
    Config.add_arguments(parser, exclude=("epochs", "batch_size", "learning_rate", "weight_decay", "selection",
                                          "jobs", "runs", "pretrained"))
    args = parser.parse_args(argv)
    return config_from_arguments(parser, args), args


def config_for_checkpoint(config: Config, record: dict | None, use_record: bool) -> Config:
    """The model options a checkpoint was trained with (from its record), keeping this run's paths."""
    if not use_record or record is None or "config" not in record:
        return config
    trained = Config.from_dict(record["config"])
    return dataclasses.replace(config, **trained.model_options())


def score_dataset(config: Config, source, *, use_record: bool, device) -> dict:
    bundle = load_bundle(source.name, h5_path=source.h5_path, splits_path=source.splits_path,
                         annotations=source.annotations_path)
    convention = F1_CONVENTION[source.name]
    splits = {}
    for split in config.splits:
        weights_path, record_path = checkpoint_paths(config.weights_dir, source.name, split)
        state = load_checkpoint(weights_path)
        split_config = config_for_checkpoint(config, read_record(record_path), use_record)
        try:
            videos = score_split(split_config, bundle, split, state, device=device)
        except RuntimeError as error:
            raise ValueError(f"{weights_path}: does not fit the model {split_config.model_name} with these options "
                             f"({str(error).splitlines()[0]}); pass the options it was trained with") from error
        per_video = {v.key: v.scores.as_dict() for v in videos}
        means = evaluation.mean_scores([v.scores for v in videos])
        splits[split] = {"weights": str(weights_path), "videos": per_video, "mean": means}
        rows = [(key, v["kendall"], v["spearman"], f1_percent(v["f1_max"]), f1_percent(v["f1_avg"]),
                 v["summary_frames"]) for key, v in per_video.items()]
        rows.append(("mean", means["kendall"], means["spearman"], f1_percent(means["f1_max"]),
                     f1_percent(means["f1_avg"]), ""))
        print()
        print(table(("video", "Kendall tau", "Spearman rho", "F1 max", "F1 avg", "summary frames"), rows,
                    title=f"[{source.name} split {split}] {weights_path}"))
    final = {key: sum(s["mean"][key] for s in splits.values()) / len(splits)
             for key in ("kendall", "spearman", "f1_max", "f1_avg")}
    final["f1"] = final[convention]
    baseline = random_baseline(bundle, config.splits)
    baseline["f1"] = baseline[convention]
    return {"h5": str(source.h5_path), "f1_convention": convention, "splits": splits, "final": final,
            "random_scores": baseline}


def random_baseline(bundle, splits, draws: int = 20, seed: int = 0) -> dict:
    """The same test videos scored with uniform random scores (mean of ``draws`` draws): the level to beat."""
    rng = np.random.default_rng(seed)
    per_split = []
    for split in splits:
        _, test_records = bundle.split(split)
        scores = [evaluate_record(bundle, record, rng.random(record.n_steps))
                  for record in test_records for _ in range(draws)]
        per_split.append(evaluation.mean_scores(scores))
    return {key: float(np.mean([m[key] for m in per_split])) for key in per_split[0]}


def main(argv=None) -> int:
    config, args = parse_arguments(argv)
    try:
        device = resolve_device(config.device)
        sources = dataset_sources(config, args.demo)
        print(f"CSTA {config.model_name} on {device} — {describe_parameters(build_model(config, pretrained=False))}")
        results = {source.name: score_dataset(config, source, use_record=args.options_from == "checkpoint",
                                              device=device) for source in sources}
    except (eccv16.DatasetError, MissingCheckpoint, RuntimeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows = []
    for name, r in results.items():
        rows.append((name, r["final"]["kendall"], r["final"]["spearman"], f1_percent(r["final"]["f1"]),
                     F1_CONVENTION[name].replace("f1_", "")))
        rows.append(("  random scores (mean of 20 draws)", r["random_scores"]["kendall"], r["random_scores"]["spearman"],
                     f1_percent(r["random_scores"]["f1"]), ""))
    print()
    print(table(("FINAL", "Kendall tau", "Spearman rho", "F1 (%)", "F1 over users"), rows,
                title=f"Mean over splits {', '.join(map(str, config.splits))}"))
    out = args.out or Path(config.results_dir) / "inference.json"
    write_json_atomically(out, {"config": config.to_dict(), "datasets": results})
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
