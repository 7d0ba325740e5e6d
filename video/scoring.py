"""CSTA importance scores for a video's sampled features, from a checkpoint the original format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from config import Config
from model import build_model


class CheckpointError(Exception):
    """A CSTA checkpoint that is missing or does not fit the model."""


class CstaScorer:
    """Callable mapping (T, 1024) features to (T,) importance scores in [0, 1].

    ``weights`` is a plain state dict as the original's training writes (``weights/{SumMe,TVSum}/
    splitK.pt``), for the paper's final model (:class:`config.Config` defaults) unless ``config`` says
    otherwise.
    """

    def __init__(self, weights, device: str | torch.device = "cpu", config: Config | None = None):
        path = Path(weights)
        if not path.is_file():
            raise CheckpointError(f"{path}: CSTA checkpoint not found (train one with train.py, "
                                  f"or pass --weights PATH)")
        self.device = torch.device(device)
        self.model = build_model(config or Config(), pretrained=False)
        try:
            state = torch.load(path, map_location="cpu")
        except Exception as error:  # torch raises many types for a corrupt or foreign file
            raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({error})") from error
        if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        try:
            self.model.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError) as error:
            raise CheckpointError(f"{path}: does not fit the CSTA model ({error})") from error
        self.model.to(self.device).eval()

    @torch.no_grad()
    def __call__(self, features: np.ndarray) -> np.ndarray:
        inputs = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(self.device)
        return self.model(inputs).float().cpu().numpy().reshape(-1)
