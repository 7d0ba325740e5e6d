"""CSTA: the model, its CNN backbones and positional encodings, and the model's own options.

The names below are imported on first use, so that ``model.options`` (torch-free) loads without
PyTorch and the command lines validate their options at once.
"""

import importlib

_EXPORTS = {
    "BACKBONES": "backbones", "AttentionCNN": "backbones", "PretrainedWeightsUnavailable": "backbones",
    "weights_file": "backbones",
    "CSTA": "csta", "build_model": "csta", "count_parameters": "csta", "describe_parameters": "csta",
    "DeviceError": "device", "resolve_device": "device",
    "ModelOptions": "options",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'model' has no attribute {name!r}")
