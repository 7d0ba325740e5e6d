"""The deterministic weight filling the parity fixtures were produced with (see tests/fixtures)."""

from __future__ import annotations

import zlib

import numpy as np
import torch


def filled_value(name: str, tensor: torch.Tensor) -> torch.Tensor:
    u = np.random.default_rng(zlib.crc32(name.encode())).random(tensor.numel()) * 2 - 1
    u = u.reshape(tuple(tensor.shape))
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        value = np.zeros(tensor.shape)
    elif leaf == "running_var":
        value = 1 + 0.5 * np.abs(u)
    elif leaf == "running_mean":
        value = 0.1 * u
    elif tensor.dim() >= 2:
        value = u * np.sqrt(3 / tensor[0].numel())
    elif leaf == "weight" and ("bn" in name or "layernorm" in name or name.startswith("linear1.3")):
        value = 1 + 0.1 * u
    else:
        value = 0.1 * u
    return torch.as_tensor(value, dtype=tensor.dtype)


def filled_state_dict(shapes: dict[str, list[int]], constant: set[str], own: dict[str, torch.Tensor] | None = None):
    """A state dict with exactly the given keys and shapes; ``constant`` entries are taken from ``own``."""
    state = {}
    for name, shape in shapes.items():
        if name in constant:
            state[name] = own[name].clone()
        else:
            state[name] = filled_value(name, torch.zeros(shape, dtype=_dtype_of(name)))
    return state


def _dtype_of(name: str) -> torch.dtype:
    return torch.int64 if name.endswith("num_batches_tracked") else torch.float32


def fixture_input(steps: int) -> np.ndarray:
    return np.random.default_rng(1000 + steps).random((steps, 1024)).astype(np.float32)
