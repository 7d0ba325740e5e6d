"""Every hyperparameter of CSTA in one validated dataclass, with a command line generated from it.

The defaults are the paper's final model and training protocol. Option values keep the original
repository's spellings (``Softmax_axis='TD'``, ``Positional_encoding='FPE'``, ...), and its flag names
(``--Softmax_axis TD``) are accepted beside this project's (``--softmax-axis TD``), so commands written
for the original keep working.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

REPO_ROOT = Path(__file__).resolve().parent

DATASETS = ("SumMe", "TVSum")

#: Datasets known by name; any other entry of ``datasets`` is the path of a JSON dataset description.
BUILTIN_DATASETS = ("SumMe", "TVSum", "MrHiSum")

SETTINGS = ("canonical", "augmented", "transfer")

#: model_name -> (CNN, whether the attention weights the input features rather than the CNN's map)
MODEL_NAMES = {
    "GoogleNet_Attention": ("googlenet", True),
    "GoogleNet": ("googlenet", False),
    "ResNet_Attention": ("resnet18", True),
    "ResNet": ("resnet18", False),
    "EfficientNet_Attention": ("efficientnet_b0", True),
    "EfficientNet": ("efficientnet_b0", False),
    "MobileNet_Attention": ("mobilenet_v2", True),
    "MobileNet": ("mobilenet_v2", False),
}

#: Width of the attention map (the CNN's last channel count), which the original calls ``dim``.
CNN_WIDTHS = {"googlenet": 1024, "resnet18": 512, "efficientnet_b0": 1280, "mobilenet_v2": 1280}

#: Width of the eccv16 GoogLeNet pool5 features the model reads.
FEATURE_WIDTH = 1024

SELECTION_RULES = ("kendall_and_spearman", "f1", "last")

#: Metrics a selection rule may name (each dataset's protocol has a subset of them).
SELECTION_METRICS = ("kendall", "spearman", "f1_max", "f1_avg", "map50", "map15")


class ConfigError(ValueError):
    """An option has a value that is unknown or that the model cannot run with."""


def _option(default: Any, help: str, *, choices: Sequence[Any] | None = None, original: str | None = None,
            cli: bool = True) -> Any:
    metadata = {"help": help, "choices": choices, "original": original, "cli": cli}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Config:
    """CSTA's hyperparameters, paths and run options. Built values are validated: see :meth:`validate`."""

    # Training protocol.
    seed: int = _option(123456, "random seed of the run")
    device: str = _option("auto", "'auto' (CUDA when present, else CPU), 'cpu', 'cuda' or 'cuda:N'")
    epochs: int = _option(100, "training epochs per split")
    batch_size: str = _option(
        "1", "'1': one optimizer step per video; a fraction f > 0: average the losses of "
             "int(N*0.8*f) videos per step (N = 25 for SumMe, 50 for TVSum, the file's video count otherwise), "
             "as the original does (a group of 0 or more than the training videos: one step per epoch)")
    videos_per_step: int = _option(0, "average the losses of this many videos per optimizer step "
                                      "(0: from batch_size)")
    learning_rate: float = _option(1e-3, "Adam learning rate")
    weight_decay: float = _option(1e-7, "Adam weight decay")

    # The model (the paper's ablation switches, original spellings).
    model_name: str = _option("GoogleNet_Attention", "the CNN, and whether attention weights the input "
                              "features (*_Attention) or the CNN's own map", choices=tuple(MODEL_NAMES),
                              original="model_name")
    Scale: str | None = _option(None, "divide the attention map by sqrt(D), sqrt(T) or sqrt(T*D)",
                                choices=("D", "T", "T_D", None), original="Scale")
    Softmax_axis: str | None = _option("TD", "softmax over time (T), features (D), both (TD) or none",
                                       choices=("T", "D", "TD", None), original="Softmax_axis")
    Balance: str | None = _option(None, "with Softmax_axis TD: rescale the temporal (T) or spatial (D) term, "
                                  "the smaller one up (BU) or the larger one down (BD)",
                                  choices=("T", "D", "BD", "BU", None), original="Balance")
    Positional_encoding: str | None = _option("FPE", "fixed (FPE), relative (RPE), learnable (LPE), "
                                              "conditional (CPE) positional encoding, or none",
                                              choices=("FPE", "RPE", "LPE", "CPE", None),
                                              original="Positional_encoding")
    Positional_encoding_shape: str | None = _option("TD", "encode time only (T, one value per step) or time "
                                                    "and features (TD)", choices=("T", "TD", None),
                                                    original="Positional_encoding_shape")
    Positional_encoding_way: str | None = _option("PGL_SUM", "add the encoding to the attention map (PGL_SUM) "
                                                  "or to the embedded input (Transformer)",
                                                  choices=("PGL_SUM", "Transformer", None),
                                                  original="Positional_encoding_way")
    Dropout_on: bool = _option(True, "dropout on the attention maps (PGL_SUM way) or the input (Transformer way)",
                               original="Dropout_on")
    Dropout_ratio: float = _option(0.6, "dropout probability", original="Dropout_ratio")
    Classifier_on: bool = _option(True, "score each step with the MLP classifier (else: mean over features)",
                                  original="Classifier_on")
    CLS_on: bool = _option(True, "prepend a learned CLS token along time", original="CLS_on")
    CLS_mix: str | None = _option("Final", "where the CLS row is folded back: after the CNN (CNN), after the "
                                  "softmax (SM) or before the classifier (Final)",
                                  choices=("CNN", "SM", "Final", None), original="CLS_mix")
    key_value_emb: str | None = _option("kv", "linear key embedding (k), value embedding (v), both (kv) or none",
                                        choices=("k", "v", "kv", None), original="key_value_emb")
    Skip_connection: str | None = _option("KC", "skip connection key->CNN (KC), CNN->final (CF), "
                                          "input->final (IF) or none",
                                          choices=("KC", "CF", "IF", None), original="Skip_connection")
    Layernorm: bool = _option(True, "normalise after the skip connection (a BatchNorm2d(1), as the original)",
                              original="Layernorm")

    # What to run and where.
    datasets: tuple[str, ...] = _option(DATASETS, "datasets to train or score: SumMe, TVSum, MrHiSum, or the "
                                        "path of a JSON dataset description")
    setting: str = _option("canonical", "SumMe/TVSum training setting: CSTA's splits (canonical), or DSNet's "
                           "augmented / transfer splits (OVP, YouTube and the other dataset added)",
                           choices=SETTINGS)
    splits: tuple[int, ...] = _option((1, 2, 3, 4, 5), "splits to train or score (1-based; Mr.HiSum has 1)")
    data_dir: str = _option(str(REPO_ROOT / "data"), "folder of the eccv16 h5 files and ydata-anno.tsv(.gz)")
    splits_dir: str = _option(str(REPO_ROOT / "data" / "splits"), "folder of {SumMe,TVSum}_splits.txt")
    weights_dir: str = _option(str(REPO_ROOT / "weights"), "checkpoints: WEIGHTS_DIR/{SumMe,TVSum}/split{k}.pt")
    results_dir: str = _option(str(REPO_ROOT / "results"), "logs and metrics of runs")
    pretrained: bool = _option(True, "initialise the CNN with torchvision's ImageNet weights")
    selection: str = _option("kendall_and_spearman", "checkpoint kept: when mean tau AND rho both improve "
                             "(the original's rule), when F1 improves, the last epoch, or when the named metric "
                             "of the dataset's protocol improves", choices=SELECTION_RULES + SELECTION_METRICS)
    deterministic: bool = _option(False, "bit-identical results for a seed on the same device and versions")
    jobs: int = _option(1, "splits trained at once (processes)")
    runs: int = _option(1, "repeat training with seeds seed, seed+1, ... and report mean +- std")
    amp: bool = _option(False, "bfloat16 autocast for the model (off: fp32, as the original)")
    per_video_rng: bool = _option(False, "draw each training video's dropout from its own generator (seed, epoch, "
                                  "position) instead of the original's shared stream; always on with several ranks")
    progress_every: int = _option(1, "write the state a split resumes from (--resume) every N epochs; 0: never")
    streaming: bool = _option(False, "read features from the h5 file per video instead of holding them in memory "
                              "(datasets larger than memory)")
    collective_timeout: int = _option(600, "with torchrun: seconds a rank waits for the others at a collective "
                                      "before the run fails naming the ranks that did not answer")

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the option when a value is unknown or cannot run."""
        for f in dataclasses.fields(self):
            choices = f.metadata.get("choices")
            value = getattr(self, f.name)
            if choices is None:
                continue
            values = value if isinstance(value, tuple) else (value,)
            for v in values:
                if v not in choices:
                    raise ConfigError(f"{f.name}: {v!r} is not one of {_format_choices(choices)}")
        _check_int(self, "seed", minimum=0)
        _check_int(self, "epochs", minimum=1)
        _check_int(self, "jobs", minimum=1)
        _check_int(self, "runs", minimum=1)
        _check_int(self, "videos_per_step", minimum=0)
        _check_int(self, "progress_every", minimum=0)
        _check_int(self, "collective_timeout", minimum=1)
        for name in ("learning_rate", "weight_decay", "Dropout_ratio"):
            if not isinstance(getattr(self, name), (int, float)) or isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}: expected a number, got {getattr(self, name)!r}")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ConfigError(f"learning_rate: must be a positive number, got {self.learning_rate!r}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ConfigError(f"weight_decay: must be >= 0, got {self.weight_decay!r}")
        if not 0 <= self.Dropout_ratio < 1:
            raise ConfigError(f"Dropout_ratio: must be in [0, 1), got {self.Dropout_ratio!r}")
        for name in ("Dropout_on", "Classifier_on", "CLS_on", "Layernorm", "pretrained", "deterministic", "amp",
                     "per_video_rng", "streaming"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}: expected true or false, got {getattr(self, name)!r}")
        self.batch_fraction  # validates batch_size
        if not self.datasets:
            raise ConfigError("datasets: name at least one of " + _format_choices(BUILTIN_DATASETS))
        for entry in self.datasets:
            if entry.lower() not in {d.lower() for d in BUILTIN_DATASETS} and not entry.lower().endswith(".json"):
                raise ConfigError(f"datasets: {entry!r} is not one of {_format_choices(BUILTIN_DATASETS)} "
                                  f"nor a JSON dataset description (.json)")
        if not self.splits or any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in self.splits):
            raise ConfigError(f"splits: expected split numbers 1, 2, ..., got {self.splits!r}")
        repeated = sorted({s for s in self.splits if self.splits.count(s) > 1})
        if repeated:
            raise ConfigError(f"splits: split {repeated[0]} is named more than once in {' '.join(map(str, self.splits))}")
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", self.device):
            raise ConfigError(f"device: {self.device!r} is not 'auto', 'cpu', 'mps', 'cuda' or 'cuda:N'")
        _check_model_shapes(self)

    # ------------------------------------------------------------------ derived values
    @property
    def cnn(self) -> str:
        """The torchvision CNN used as the attention network."""
        return MODEL_NAMES[self.model_name][0]

    @property
    def attends_input(self) -> bool:
        """True for the *_Attention models: the attention weights the (embedded) input features."""
        return MODEL_NAMES[self.model_name][1]

    @property
    def dim(self) -> int:
        """Width of the attention map: the CNN's last channel count."""
        return CNN_WIDTHS[self.cnn]

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

    def model_options(self) -> dict[str, Any]:
        """The model switches under the original's option names (as the original's set_model takes them)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata.get("original")}

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


def _format_choices(choices: Sequence[Any]) -> str:
    return ", ".join("None" if c is None else repr(c) for c in choices)


def _check_int(config: Config, name: str, *, minimum: int) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}: expected an integer >= {minimum}, got {value!r}")


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


def _check_model_shapes(config: Config) -> None:
    """Reject switch combinations whose tensors cannot line up (the original crashes on them at run time).

    Widths: the features are 1024 wide, the attention map is ``dim`` wide (the CNN's channel count).
    """
    D, W = config.dim, FEATURE_WIDTH
    has_key = config.key_value_emb in ("k", "kv")
    has_value = config.key_value_emb in ("v", "kv")
    if config.Positional_encoding is not None and config.Positional_encoding_shape is None:
        # RPE and LPE are built without a shape, but only used when Positional_encoding_way is set.
        if config.Positional_encoding in ("FPE", "CPE") or config.Positional_encoding_way is not None:
            raise ConfigError(f"Positional_encoding_shape: must be 'T' or 'TD' when Positional_encoding is "
                              f"{config.Positional_encoding!r}")
    if config.Positional_encoding_way == "Transformer" and D != W:
        raise ConfigError(f"Positional_encoding_way: 'Transformer' embeds the {W}-wide input with a "
                          f"{D}x{D} layer, which only fits GoogleNet (model_name={config.model_name!r})")
    if config.CLS_on and config.CLS_mix is None:
        raise ConfigError("CLS_mix: must be 'CNN', 'SM' or 'Final' when CLS_on is true")
    folds_early = config.CLS_on and config.CLS_mix == "CNN"
    input_width = D if folds_early else W       # the original pools the input to dim when folding at the CNN
    key_width = D if has_key else W
    if config.Skip_connection == "KC" and key_width != D:
        raise ConfigError(f"Skip_connection: 'KC' adds the {key_width}-wide key to the {D}-wide map of "
                          f"{config.model_name}; use key_value_emb 'k' or 'kv'")
    if config.attends_input:
        if has_value and input_width != W:
            raise ConfigError(f"CLS_mix: 'CNN' pools the input to {D} features before the {W}-wide value "
                              f"embedding of {config.model_name}; use 'SM' or 'Final'")
        # Folding the CLS row at the softmax (SM) pools the value to (T, D), whatever its width.
        value_width = D if has_value or (config.CLS_on and config.CLS_mix == "SM") else input_width
        if value_width != D:
            raise ConfigError(f"key_value_emb: {config.model_name} weights the {value_width}-wide input with a "
                              f"{D}-wide attention map; use key_value_emb 'v' or 'kv'")
    if config.Skip_connection == "IF":
        if input_width != D:
            raise ConfigError(f"Skip_connection: 'IF' adds the {input_width}-wide input to the {D}-wide output "
                              f"of {config.model_name}")
        if config.CLS_on and config.CLS_mix == "SM":
            raise ConfigError("Skip_connection: 'IF' adds the input (with its CLS row) to an output whose CLS "
                              "row was folded at the softmax (CLS_mix 'SM'); use CLS_mix 'CNN' or 'Final'")
    if config.Softmax_axis is None and config.CLS_on and config.CLS_mix == "SM":
        raise ConfigError("CLS_mix: 'SM' folds the CLS row of the softmax outputs, but Softmax_axis is None")
