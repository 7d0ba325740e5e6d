"""CSTA: the model, its CNN backbones and positional encodings."""

from .backbones import BACKBONES, AttentionCNN, PretrainedWeightsUnavailable, weights_file
from .csta import CSTA, build_model, count_parameters, describe_parameters

__all__ = [
    "BACKBONES",
    "AttentionCNN",
    "CSTA",
    "PretrainedWeightsUnavailable",
    "build_model",
    "count_parameters",
    "describe_parameters",
    "weights_file",
]
