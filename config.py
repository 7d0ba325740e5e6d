"""Every hyperparameter of CSTA in one validated dataclass, with a command line generated from it.

The defaults are the paper's final model and training protocol. The model's switches are the model's
own (``model.options.ModelOptions``, which :class:`Config` extends); this file declares the training
and run options. Each option is declared once with its role (``model``, ``training``, ``run``): the
``--resume`` fingerprint, the record beside a checkpoint and the options ``inference.py`` takes all
follow from it. Option values keep the original repository's spellings (``Softmax_axis='TD'``,
``Positional_encoding='FPE'``, ...), and its flag names (``--Softmax_axis TD``) are accepted beside
this project's (``--softmax-axis TD``), so commands written for the original keep working.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from model.options import FEATURE_WIDTH, MODEL_NAMES, ModelOptions, check_choices, format_choices, option
from model.options import OptionError as ConfigError

REPO_ROOT = Path(__file__).resolve().parent

DATASETS = ("SumMe", "TVSum")

#: Seeds are below 2**64: torch's generators take 64 bits (with --runs N, the last run's seed is seed + N - 1).
SEED_LIMIT = 2**64

#: Datasets known by name; any other entry of ``datasets`` is the path of a JSON dataset description.
BUILTIN_DATASETS = ("SumMe", "TVSum", "MrHiSum")

SETTINGS = ("canonical", "augmented", "transfer")

SELECTION_RULES = ("kendall_and_spearman", "f1", "last")

#: Metrics a selection rule may name (each dataset's protocol has a subset of them).
SELECTION_METRICS = ("kendall", "spearman", "f1_max", "f1_avg", "map50", "map15")


@dataclass(frozen=True)
class Config(ModelOptions):
    """CSTA's switches, hyperparameters, paths and run options. Built values are validated: see :meth:`validate`."""

    # Training: what changes the trained weights (the --resume fingerprint).
    seed: int = option(123456, "random seed of the run", role="training", scoring=True)
    epochs: int = option(100, "training epochs per split", role="training")
    batch_size: str = option(
        "1", "'1': one optimizer step per video; a fraction f > 0: average the losses of "
             "int(N*0.8*f) videos per step (N = 25 for SumMe, 50 for TVSum, the file's video count otherwise), "
             "as the original does (a group of 0 or more than the training videos: one step per epoch)",
        role="training")
    videos_per_step: int = option(0, "average the losses of this many videos per optimizer step "
                                     "(0: from batch_size)", role="training")
    learning_rate: float = option(1e-3, "Adam learning rate", role="training")
    weight_decay: float = option(1e-7, "Adam weight decay", role="training")
    lr_schedule: str = option("none", "learning rate over the epochs: constant (none, the original's) or cosine "
                              "annealing to 0 over the epochs (cosine)", choices=("none", "cosine"), role="training")
    setting: str = option("canonical", "SumMe/TVSum training setting: CSTA's splits (canonical), or DSNet's "
                          "augmented / transfer splits (OVP, YouTube and the other dataset added)",
                          choices=SETTINGS, role="training", scoring=True)
    pretrained: bool = option(True, "initialise the CNN with torchvision's ImageNet weights", role="training")
    select_on: str = option("test", "videos the kept epoch is chosen on: the split's test videos (test, the "
                            "original's protocol) or validation videos carved from its training videos, seeded by "
                            "the seed and the split, never trained on (validation); Mr.HiSum has its own",
                            choices=("test", "validation"), role="training")
    validation_fraction: float = option(0.2, "with --select-on validation: the share of each split's training "
                                        "videos held out for selection (SumMe 16 + 4, TVSum 32 + 8)",
                                        role="training")
    selection: str = option("kendall_and_spearman", "checkpoint kept: when mean tau AND rho both improve "
                            "(the original's rule), when F1 improves, the last epoch, or when the named metric "
                            "of the dataset's protocol improves", choices=SELECTION_RULES + SELECTION_METRICS,
                            role="training")
    deterministic: bool = option(False, "bit-identical results for a seed on the same device and versions",
                                 role="training", scoring=True)
    amp: bool = option(False, "bfloat16 autocast for the model (off: fp32, as the original)", role="training",
                       scoring=True)
    per_video_rng: bool = option(False, "draw each training video's dropout from its own generator (seed, epoch, "
                                 "position) instead of the original's shared stream; always on with several ranks",
                                 role="training")

    # The run: what to run, where, and how.
    device: str = option("auto", "'auto' (CUDA when present, else CPU), 'cpu', 'cuda' or 'cuda:N'", role="run")
    datasets: tuple[str, ...] = option(DATASETS, "datasets to train or score: SumMe, TVSum, MrHiSum, or the "
                                       "path of a JSON dataset description", role="run")
    splits: tuple[int, ...] = option((1, 2, 3, 4, 5), "splits to train or score (1-based; Mr.HiSum has 1)",
                                     role="run")
    data_dir: str = option(str(REPO_ROOT / "data"), "folder of the eccv16 h5 files and ydata-anno.tsv(.gz)",
                           role="run")
    splits_dir: str = option(str(REPO_ROOT / "data" / "splits"), "folder of {SumMe,TVSum}_splits.txt", role="run")
    weights_dir: str = option(str(REPO_ROOT / "weights"), "checkpoints: WEIGHTS_DIR/{SumMe,TVSum}/split{k}.pt",
                              role="run")
    results_dir: str = option(str(REPO_ROOT / "results"), "logs and metrics of runs", role="run")
    jobs: int = option(1, "splits trained at once (processes)", role="run", scoring=False)
    runs: int = option(1, "repeat training with seeds seed, seed+1, ... and report mean +- std", role="run",
                       scoring=False)
    progress_every: int = option(1, "write the state a split resumes from (--resume) every N epochs; 0: never",
                                 role="run")
    streaming: bool = option(False, "read features from the h5 file per video instead of holding them in memory "
                             "(datasets larger than memory)", role="run")
    exclude_invalid_videos: bool = option(False, "leave out the videos that cannot be used (each named once; the "
                                          "records, results and tables say how many of how many were used) "
                                          "instead of refusing the file: a benchmark with fewer videos is "
                                          "another benchmark", role="run")
    collective_timeout: int = option(600, "with torchrun: seconds a rank waits for the others at a collective "
                                     "before the run fails naming the ranks that did not answer", role="run",
                                     scoring=False)
    tensorboard: str = option("", "write TensorBoard event files into this folder, one run per dataset and split "
                              "(loss, metrics, learning rate, kept epoch, configuration); empty: none "
                              "(needs the tensorboard package)", role="run", scoring=False)

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the option when a value is unknown or cannot run."""
        check_choices(self, [f for f in dataclasses.fields(self) if f.metadata.get("role") != "model"])
        _check_int(self, "epochs", minimum=1)
        _check_int(self, "jobs", minimum=1)
        _check_int(self, "runs", minimum=1)
        _check_int(self, "seed", minimum=0, maximum=SEED_LIMIT - self.runs)     # torch's generators take 64 bits
        _check_int(self, "videos_per_step", minimum=0)
        _check_int(self, "progress_every", minimum=0)
        _check_int(self, "collective_timeout", minimum=1)
        for name in ("learning_rate", "weight_decay", "validation_fraction"):
            if not isinstance(getattr(self, name), (int, float)) or isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}: expected a number, got {getattr(self, name)!r}")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ConfigError(f"learning_rate: must be a positive number, got {self.learning_rate!r}")
        if not 0 < self.validation_fraction < 1:
            raise ConfigError(f"validation_fraction: must be in (0, 1), got {self.validation_fraction!r}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ConfigError(f"weight_decay: must be >= 0, got {self.weight_decay!r}")
        for name in ("pretrained", "deterministic", "amp", "per_video_rng", "streaming", "exclude_invalid_videos"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}: expected true or false, got {getattr(self, name)!r}")
        self.batch_fraction  # validates batch_size
        if not self.datasets:
            raise ConfigError("datasets: name at least one of " + format_choices(BUILTIN_DATASETS))
        for entry in self.datasets:
            if entry.lower() not in {d.lower() for d in BUILTIN_DATASETS} and not entry.lower().endswith(".json"):
                raise ConfigError(f"datasets: {entry!r} is not one of {format_choices(BUILTIN_DATASETS)} "
                                  f"nor a JSON dataset description (.json)")
        if not self.splits or any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in self.splits):
            raise ConfigError(f"splits: expected split numbers 1, 2, ..., got {self.splits!r}")
        named = [entry.lower() if entry.lower() in {d.lower() for d in BUILTIN_DATASETS}
                 else os.path.normcase(os.path.abspath(entry)) for entry in self.datasets]
        twice = next((entry for entry, key in zip(self.datasets, named) if named.count(key) > 1), None)
        if twice is not None:
            raise ConfigError(f"datasets: {twice!r} is named more than once in {' '.join(self.datasets)}")
        repeated = sorted({s for s in self.splits if self.splits.count(s) > 1})
        if repeated:
            raise ConfigError(f"splits: split {repeated[0]} is named more than once in {' '.join(map(str, self.splits))}")
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", self.device):
            raise ConfigError(f"device: {self.device!r} is not 'auto', 'cpu', 'mps', 'cuda' or 'cuda:N'")
        ModelOptions.validate(self)

    # ------------------------------------------------------------------ derived values
    @property
    def batch_fraction(self) -> float | None:
        """None for one step per video (``batch_size='1'``), else the fraction of the training set per step."""
        text = str(self.batch_size).strip()
        if text == "1":
            return None
        try:
            fraction = float(text)
        except ValueError:
            raise ConfigError(f"batch_size: expected '1' or a fraction > 0, got {self.batch_size!r}") from None
        if not (fraction > 0 and math.isfinite(fraction)):
            raise ConfigError(f"batch_size: expected '1' or a fraction > 0, got {self.batch_size!r}")
        return fraction

    def group_size(self, fraction_base: int, train_videos: int) -> int:
        """How many videos' losses are averaged per optimizer step, exactly as the original computes it.

        The original compares a running count with ``int(N * 0.8 * f)``; when that is 0 or more than the
        training videos the count never matches and the epoch's videos make one step at its end.
        """
        if self.videos_per_step:
            group = self.videos_per_step
        elif self.batch_fraction is None:
            group = 1
        else:
            group = int(fraction_base * 0.8 * self.batch_fraction)
        return train_videos if group <= 0 or group > train_videos else group

    @classmethod
    def field_names(cls) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}

    @classmethod
    def names_with_role(cls, role: str) -> tuple[str, ...]:
        """The options declared with ``role`` ('model', 'training' or 'run'), in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("role") == role)

    @classmethod
    def not_for_scoring(cls) -> tuple[str, ...]:
        """The options inference.py does not take: they only change how a split is trained or run."""
        return tuple(f.name for f in dataclasses.fields(cls) if not f.metadata.get("scoring"))

    def training_options(self) -> dict[str, Any]:
        """The options declared with role ``training``, by name (with the model's, what a fingerprint holds)."""
        return {name: getattr(self, name) for name in self.names_with_role("training")}

    def replace(self, **changes: Any) -> "Config":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "Config":
        """Build from this project's field names (as written by :meth:`to_dict`); unknown names are errors."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown option(s): {', '.join(unknown)}")
        converted = {}
        for f in dataclasses.fields(cls):
            if f.name in values:
                converted[f.name] = _convert(f, values[f.name])
        return cls(**converted)

    @classmethod
    def from_original(cls, options: Mapping[str, Any], **overrides: Any) -> "Config":
        """Build from the original repository's option names and values.

        Accepts what its ``get_config()`` holds: strings such as ``'None'``, ``'true'``, ``'0.6'`` or
        ``'1e-3'`` as well as Python values. Options that only concern its video generator or its
        hard-coded paths (``input_is_file``, ``file_path``, ...) are ignored.
        """
        ignored = {"input_is_file", "file_path", "dir_path", "ext", "sample_rate", "save_path", "weight_path",
                   "kwargs"}
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for name, value in options.items():
            if name in ignored:
                continue
            if name not in known:
                raise ConfigError(f"unknown option of the original: {name!r}")
            values[name] = _convert(known[name], value)
        values.update(overrides)
        return cls(**values)

    # ------------------------------------------------------------------ command line
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, *, exclude: Iterable[str] = ()) -> None:
        """Add one flag per field (``--softmax-axis``) plus the original's spelling (``--Softmax_axis``)."""
        excluded = set(exclude)
        group = parser.add_argument_group("configuration (defaults: the paper's)")
        for f in dataclasses.fields(cls):
            if f.name in excluded or not f.metadata.get("cli", True):
                continue
            flags = [_flag(f.name)]
            if f.name.replace("-", "_") != _flag(f.name)[2:] or f.metadata.get("original"):
                flags.append("--" + f.name)
            flags = list(dict.fromkeys(flags))
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            help_text = f"{f.metadata['help']} (default: {_format_value(default)})"
            kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_text}
            choices = f.metadata.get("choices")
            if isinstance(default, bool) and not f.metadata.get("original"):
                kwargs["action"] = argparse.BooleanOptionalAction
            elif isinstance(default, tuple):
                kwargs["nargs"] = "+"
                kwargs["metavar"] = f.name.upper()
            elif choices:
                kwargs["metavar"] = "{" + ",".join("None" if c is None else str(c) for c in choices) + "}"
            group.add_argument(*flags, **kwargs)

    @classmethod
    def from_args(cls, args: argparse.Namespace, **overrides: Any) -> "Config":
        """Build from parsed flags; only the flags given on the command line override the defaults."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        values = {name: _convert(known[name], value) for name, value in vars(args).items() if name in known}
        values.update(overrides)
        return cls(**values)

    @classmethod
    def parse(cls, argv: Sequence[str] | None = None, description: str | None = None) -> "Config":
        parser = argparse.ArgumentParser(description=description)
        cls.add_arguments(parser)
        args = parser.parse_args(argv)
        try:
            return cls.from_args(args)
        except ConfigError as error:
            parser.error(str(error))


# ---------------------------------------------------------------------- helpers
_TRUE = {"yes", "true", "t", "y", "1", "on"}
_FALSE = {"no", "false", "f", "n", "0", "off"}


def _flag(name: str) -> str:
    return "--" + re.sub(r"(?<=[a-z])(?=[A-Z])", "-", name).replace("_", "-").lower()


def _format_value(value: Any) -> str:
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    return "None" if value is None else str(value)


def _check_int(config: Config, name: str, *, minimum: int, maximum: int | None = None) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}: expected an integer <= {maximum}, got {value}")


def _convert(f: dataclasses.Field, value: Any) -> Any:
    """Turn a command-line or original-style value into the field's type; leave wrong types to validate()."""
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    if isinstance(default, tuple):
        items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
        element = int if f.name == "splits" else str
        try:
            return tuple(element(v) for v in items)
        except ValueError:
            raise ConfigError(f"{f.name}: cannot read {value!r}") from None
    if not isinstance(value, str):
        return value
    text = value.strip()
    if isinstance(default, bool):
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"{f.name}: expected true or false, got {value!r}")
    if text.lower() == "none" and (f.metadata.get("choices") and None in f.metadata["choices"]):
        return None
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{f.name}: expected an integer, got {value!r}") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{f.name}: expected a number, got {value!r}") from None
    if f.name == "key_value_emb" and text.lower() in {"k", "v", "kv", "vk"}:
        return "kv" if text.lower() == "vk" else text.lower()
    return text
