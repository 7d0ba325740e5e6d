"""Where a run reads its data and writes its weights: the real eccv16 files, or the built-in demo."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import dataset as eccv16
from config import REPO_ROOT, Config, ConfigError

from .data import annotations_path

#: The demo trains the paper's model briefly, without ImageNet weights, into its own folders,
#: on 20 short videos per dataset so that all 10 splits train in a few minutes on a laptop CPU.
DEMO_EPOCHS = 10
DEMO_DATA = {"n_videos": 20, "min_steps": 15, "max_steps": 25}
DEMO_DATA_DIR = REPO_ROOT / "data" / "demo"


@dataclass(frozen=True)
class DatasetSource:
    name: str
    h5_path: Path
    splits_path: Path
    annotations_path: Path | None


def demo_config(config: Config, explicitly_set: set[str]) -> Config:
    """The demo's defaults for the options the user did not set on the command line."""
    changes = {"pretrained": False, "epochs": DEMO_EPOCHS,
               "weights_dir": str(Path(config.weights_dir) / "demo"),
               "results_dir": str(Path(config.results_dir) / "demo")}
    for name in explicitly_set:
        changes.pop(name, None)
    return dataclasses.replace(config, **changes)


def dataset_sources(config: Config, demo: bool) -> list[DatasetSource]:
    if demo:
        import demo_data

        paths = demo_data.ensure_demo_dataset(DEMO_DATA_DIR, **DEMO_DATA)
        return [DatasetSource(name, paths.h5_path(name), paths.splits_path(name), paths.annotations_path(name))
                for name in config.datasets]
    return [DatasetSource(name, eccv16.default_h5_path(name, config.data_dir),
                          eccv16.splits_path(name, config.splits_dir),
                          annotations_path(config.data_dir) if name == "TVSum" else None)
            for name in config.datasets]


def config_from_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Config:
    """The run's Config from parsed flags, with the demo's defaults under ``--demo``; bad values end the parse."""
    try:
        config = Config.from_args(args)
        if getattr(args, "demo", False):
            given = set(vars(args)) & {f.name for f in dataclasses.fields(Config)}
            config = demo_config(config, explicitly_set=given)
    except ConfigError as error:
        parser.error(str(error))
    return config
