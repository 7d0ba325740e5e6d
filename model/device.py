"""The torch device a ``--device`` option names: one resolver for training, inference, benchmarks and video/."""

from __future__ import annotations

import torch

CHOICES = "'auto', 'cpu', 'cuda' or 'cuda:N'"


class DeviceError(ValueError):
    """A device that cannot be parsed or is not present here; the message names the option and the remedy."""


def resolve_device(name: str | torch.device) -> torch.device:
    """'auto' is CUDA when present, else the CPU; a named device that is unknown or missing is a DeviceError."""
    if isinstance(name, torch.device):
        name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise DeviceError(f"--device {name}: expected {CHOICES}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"--device {name}: CUDA is not available here (use --device cpu or --device auto)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"--device {name}: MPS is not available here (use --device auto)")
    return device
