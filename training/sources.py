"""Where a run reads its data: the datasets it names, or the built-in demo."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import catalog
import dataset as eccv16
from catalog import ORIGINAL_SIZES, DatasetSpec
from config import REPO_ROOT, Config, ConfigError


#: The demo trains the paper's model briefly, without ImageNet weights, into its own folders,
#: on 20 short videos per dataset so that all 10 splits train in a few minutes on a laptop CPU.
DEMO_EPOCHS = 10
DEMO_DATA = {"n_videos": 20, "min_steps": 15, "max_steps": 25}
DEMO_DATA_DIR = REPO_ROOT / "data" / "demo"


def demo_cache_dir() -> Path:
    """Where the demo's data go when the checkout cannot be written (a read-only install): the user's cache
    folder, ``$XDG_CACHE_HOME/csta-reproduction/demo`` (``~/.cache/csta-reproduction/demo`` by default)."""
    import os

    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "csta-reproduction" / "demo"


def demo_dataset():
    """The demo's generated files (``demo.DemoPaths``), made when missing or stale: in the checkout's
    ``data/demo``, or in :func:`demo_cache_dir` when the checkout cannot be written, said in one line. A
    ``ValueError`` naming both folders when neither can be written."""
    import sys

    from demo import ensure_demo_dataset
    from storage.files import describe_write_error

    try:
        return ensure_demo_dataset(DEMO_DATA_DIR, **DEMO_DATA)
    except OSError as error:
        in_checkout = describe_write_error(error)
    cache = demo_cache_dir()
    try:
        paths = ensure_demo_dataset(cache, **DEMO_DATA)
    except OSError as error:
        raise ValueError(f"--demo: its generated data can be written neither in the checkout ({in_checkout}) nor "
                         f"in the cache folder ({describe_write_error(error)}); set XDG_CACHE_HOME to a folder you "
                         f"can write") from None
    print(f"note: {in_checkout}; the demo's data are in {cache}")
    return paths


def demo_config(config: Config, explicitly_set: set[str]) -> Config:
    """The demo's defaults for the options the user did not set on the command line."""
    for name in ("data_dir", "splits_dir"):
        if name in explicitly_set:
            raise ConfigError(f"{name}: --demo trains on its own generated files in {DEMO_DATA_DIR}; give "
                              f"--{name.replace('_', '-')} without --demo, or --demo without it")
    changes = {"pretrained": False, "epochs": DEMO_EPOCHS,
               "weights_dir": str(Path(config.weights_dir) / "demo"),
               "results_dir": str(Path(config.results_dir) / "demo")}
    for name in explicitly_set:
        changes.pop(name, None)
    return dataclasses.replace(config, **changes)


def dataset_sources(config: Config, demo: bool) -> list[DatasetSpec]:
    """The run's datasets as described values (the demo's generated SumMe- and TVSum-like files under --demo)."""
    if demo:
        paths = demo_dataset()
        specs = []
        for name in config.datasets:
            canonical = eccv16.canonical_dataset_name(name)
            if canonical not in ORIGINAL_SIZES:
                raise ValueError(f"datasets: the demo has SumMe and TVSum only, not {name!r}")
            specs.append(DatasetSpec(canonical, canonical, paths.h5_path(canonical), paths.splits_path(canonical),
                                     annotations_path=paths.annotations_path(canonical),
                                     fraction_base=ORIGINAL_SIZES[canonical]))
        return specs
    from .data import annotations_path

    return [catalog.resolve(entry, data_dir=config.data_dir, splits_dir=config.splits_dir, setting=config.setting,
                            annotations_path=annotations_path(config.data_dir))
            for entry in config.datasets]


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
