"""The model's own options: CSTA's ablation switches, the CNNs it can use, and how options are declared.

Torch-free, so that the command lines validate options without loading PyTorch. ``config.Config``
extends :class:`ModelOptions` with the run's options; the model reads only these switches.
Every option is declared once with :func:`option`, with its role: ``model`` (the network's switches),
``training`` (what changes the trained weights) or ``run`` (where and how a run works). The
``--resume`` fingerprint, the record and the options ``inference.py`` accepts derive from the roles.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Sequence

#: Width of the eccv16 GoogLeNet pool5 features the model reads.
FEATURE_WIDTH = 1024

ROLES = ("model", "training", "run")


class OptionError(ValueError):
    """An option has a value that is unknown or that the model cannot run with."""


@dataclass(frozen=True)
class CNNInfo:
    """What the options need to know of a CNN: its checkpoint prefix, map width and shortest input."""

    attribute: str          #: the original's attribute name (its checkpoints' key prefix)
    channels: int           #: width of the attention map (the original's ``dim``)
    min_rows: int           #: shortest input its layers accept (shorter ones are padded)


#: The CNNs, by torchvision's names; ``model.backbones.BACKBONES`` adds how to build each.
CNNS = {
    "googlenet": CNNInfo("googlenet", channels=1024, min_rows=15),
    "resnet18": CNNInfo("resnet", channels=512, min_rows=1),
    "efficientnet_b0": CNNInfo("efficientnet", channels=1280, min_rows=1),
    "mobilenet_v2": CNNInfo("mobilenet", channels=1280, min_rows=1),
}

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


def option(default: Any, help: str, *, role: str, choices: Sequence[Any] | None = None,
           original: str | None = None, cli: bool = True, scoring: bool | None = None) -> Any:
    """A declared option: its default, help text, role, allowed values and the original's name.

    ``scoring``: whether ``inference.py`` takes it from the command line (default: model and run
    options do, training options do not).
    """
    if role not in ROLES:
        raise ValueError(f"role: {role!r} is not one of {ROLES}")
    metadata = {"help": help, "choices": choices, "original": original, "cli": cli, "role": role,
                "scoring": (role != "training") if scoring is None else scoring}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def format_choices(choices: Sequence[Any]) -> str:
    return ", ".join("None" if c is None else repr(c) for c in choices)


def check_choices(options: Any, fields: Sequence[dataclasses.Field]) -> None:
    """Each field with declared choices holds one of them (every element, for a tuple)."""
    for f in fields:
        choices = f.metadata.get("choices")
        if choices is None:
            continue
        value = getattr(options, f.name)
        for v in value if isinstance(value, tuple) else (value,):
            if v not in choices:
                raise OptionError(f"{f.name}: {v!r} is not one of {format_choices(choices)}")


@dataclass(frozen=True)
class ModelOptions:
    """CSTA's switches under the original's names; the defaults are the paper's final model."""

    model_name: str = option("GoogleNet_Attention", "the CNN, and whether attention weights the input "
                             "features (*_Attention) or the CNN's own map", choices=tuple(MODEL_NAMES),
                             role="model", original="model_name")
    Scale: str | None = option(None, "divide the attention map by sqrt(D), sqrt(T) or sqrt(T*D)",
                               choices=("D", "T", "T_D", None), role="model", original="Scale")
    Softmax_axis: str | None = option("TD", "softmax over time (T), features (D), both (TD) or none",
                                      choices=("T", "D", "TD", None), role="model", original="Softmax_axis")
    Balance: str | None = option(None, "with Softmax_axis TD: rescale the temporal (T) or spatial (D) term, "
                                 "the smaller one up (BU) or the larger one down (BD)",
                                 choices=("T", "D", "BD", "BU", None), role="model", original="Balance")
    Positional_encoding: str | None = option("FPE", "fixed (FPE), relative (RPE), learnable (LPE), "
                                             "conditional (CPE) positional encoding, or none",
                                             choices=("FPE", "RPE", "LPE", "CPE", None),
                                             role="model", original="Positional_encoding")
    Positional_encoding_shape: str | None = option("TD", "encode time only (T, one value per step) or time "
                                                   "and features (TD)", choices=("T", "TD", None),
                                                   role="model", original="Positional_encoding_shape")
    Positional_encoding_way: str | None = option("PGL_SUM", "add the encoding to the attention map (PGL_SUM) "
                                                 "or to the embedded input (Transformer)",
                                                 choices=("PGL_SUM", "Transformer", None),
                                                 role="model", original="Positional_encoding_way")
    Dropout_on: bool = option(True, "dropout on the attention maps (PGL_SUM way) or the input (Transformer way)",
                              role="model", original="Dropout_on")
    Dropout_ratio: float = option(0.6, "dropout probability", role="model", original="Dropout_ratio")
    Classifier_on: bool = option(True, "score each step with the MLP classifier (else: mean over features)",
                                 role="model", original="Classifier_on")
    CLS_on: bool = option(True, "prepend a learned CLS token along time", role="model", original="CLS_on")
    CLS_mix: str | None = option("Final", "where the CLS row is folded back: after the CNN (CNN), after the "
                                 "softmax (SM) or before the classifier (Final)",
                                 choices=("CNN", "SM", "Final", None), role="model", original="CLS_mix")
    key_value_emb: str | None = option("kv", "linear key embedding (k), value embedding (v), both (kv) or none",
                                       choices=("k", "v", "kv", None), role="model", original="key_value_emb")
    Skip_connection: str | None = option("KC", "skip connection key->CNN (KC), CNN->final (CF), "
                                         "input->final (IF) or none",
                                         choices=("KC", "CF", "IF", None), role="model", original="Skip_connection")
    Layernorm: bool = option(True, "normalise after the skip connection (a BatchNorm2d(1), as the original)",
                             role="model", original="Layernorm")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`OptionError` naming the switch when a value is unknown or cannot run."""
        fields = [f for f in dataclasses.fields(self) if f.metadata.get("role") == "model"]
        check_choices(self, fields)
        if not isinstance(self.Dropout_ratio, (int, float)) or isinstance(self.Dropout_ratio, bool):
            raise OptionError(f"Dropout_ratio: expected a number, got {self.Dropout_ratio!r}")
        if not 0 <= self.Dropout_ratio < 1:
            raise OptionError(f"Dropout_ratio: must be in [0, 1), got {self.Dropout_ratio!r}")
        for name in ("Dropout_on", "Classifier_on", "CLS_on", "Layernorm"):
            if not isinstance(getattr(self, name), bool):
                raise OptionError(f"{name}: expected true or false, got {getattr(self, name)!r}")
        check_model_shapes(self)

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
        return CNNS[self.cnn].channels

    def model_options(self) -> dict[str, Any]:
        """The model switches under the original's option names (as the original's set_model takes them)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata.get("role") == "model"}


def check_model_shapes(config: "ModelOptions") -> None:
    """Reject switch combinations whose tensors cannot line up (the original crashes on them at run time).

    Widths: the features are 1024 wide, the attention map is ``dim`` wide (the CNN's channel count).
    """
    D, W = config.dim, FEATURE_WIDTH
    has_key = config.key_value_emb in ("k", "kv")
    has_value = config.key_value_emb in ("v", "kv")
    if config.Positional_encoding is not None and config.Positional_encoding_shape is None:
        # RPE and LPE are built without a shape, but only used when Positional_encoding_way is set.
        if config.Positional_encoding in ("FPE", "CPE") or config.Positional_encoding_way is not None:
            raise OptionError(f"Positional_encoding_shape: must be 'T' or 'TD' when Positional_encoding is "
                              f"{config.Positional_encoding!r}")
    if config.Positional_encoding_way == "Transformer" and D != W:
        raise OptionError(f"Positional_encoding_way: 'Transformer' embeds the {W}-wide input with a "
                          f"{D}x{D} layer, which only fits GoogleNet (model_name={config.model_name!r})")
    if config.CLS_on and config.CLS_mix is None:
        raise OptionError("CLS_mix: must be 'CNN', 'SM' or 'Final' when CLS_on is true")
    folds_early = config.CLS_on and config.CLS_mix == "CNN"
    input_width = D if folds_early else W       # the original pools the input to dim when folding at the CNN
    key_width = D if has_key else W
    if config.Skip_connection == "KC" and key_width != D:
        raise OptionError(f"Skip_connection: 'KC' adds the {key_width}-wide key to the {D}-wide map of "
                          f"{config.model_name}; use key_value_emb 'k' or 'kv'")
    if config.attends_input:
        if has_value and input_width != W:
            raise OptionError(f"CLS_mix: 'CNN' pools the input to {D} features before the {W}-wide value "
                              f"embedding of {config.model_name}; use 'SM' or 'Final'")
        # Folding the CLS row at the softmax (SM) pools the value to (T, D), whatever its width.
        value_width = D if has_value or (config.CLS_on and config.CLS_mix == "SM") else input_width
        if value_width != D:
            raise OptionError(f"key_value_emb: {config.model_name} weights the {value_width}-wide input with a "
                              f"{D}-wide attention map; use key_value_emb 'v' or 'kv'")
    if config.Skip_connection == "IF":
        if input_width != D:
            raise OptionError(f"Skip_connection: 'IF' adds the {input_width}-wide input to the {D}-wide output "
                              f"of {config.model_name}")
        if config.CLS_on and config.CLS_mix == "SM":
            raise OptionError("Skip_connection: 'IF' adds the input (with its CLS row) to an output whose CLS "
                              "row was folded at the softmax (CLS_mix 'SM'); use CLS_mix 'CNN' or 'Final'")
    if config.Softmax_axis is None and config.CLS_on and config.CLS_mix == "SM":
        raise OptionError("CLS_mix: 'SM' folds the CLS row of the softmax outputs, but Softmax_axis is None")
