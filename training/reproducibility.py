"""Seeds, random generator states, deterministic switches and the library versions a result depends on."""

from __future__ import annotations

import os
import platform
import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_deterministic(enabled: bool) -> None:
    """PyTorch's deterministic switches (the CSTA model swaps in its own deterministic pooling backward).

    cuDNN's deterministic convolutions are on in every run, as the original sets them;
    ``enabled`` (``--deterministic``) adds ``torch.use_deterministic_algorithms`` for everything else.
    """
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def rng_state(device: torch.device) -> dict:
    """Every generator a training run draws from: torch's CPU one (and the device's CUDA one), numpy's, Python's.

    Held in tensors and plain Python values only, so that a progress file loads with ``weights_only=True``.
    """
    name, key, position, has_gauss, cached_gaussian = np.random.get_state()
    numpy_state = {"bit_generator": str(name), "key": torch.from_numpy(key.astype(np.int64)),
                   "pos": int(position), "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)}
    version, internal, gauss = random.getstate()
    state = {"torch": torch.get_rng_state(), "numpy": numpy_state,
             "python": {"version": version, "state": list(internal), "gauss": gauss}}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state((numpy_state["bit_generator"], numpy_state["key"].numpy().astype(np.uint32),
                         numpy_state["pos"], numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
    python_state = state["python"]
    random.setstate((python_state["version"], tuple(python_state["state"]), python_state["gauss"]))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def library_versions() -> dict[str, str | None]:
    import h5py
    import scipy
    import torchvision

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "h5py": h5py.__version__,
        "cuda": torch.version.cuda,
        "cudnn": str(torch.backends.cudnn.version()) if torch.backends.cudnn.is_available() else None,
    }
