"""CSTA importance scores for a video's sampled features, from a checkpoint in the original format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from config import Config
from model import build_model
from training.checkpoints import (MissingCheckpoint, config_for_checkpoint, load_checkpoint, load_model_weights,
                                  read_record)


class CheckpointError(Exception):
    """A CSTA checkpoint that is missing or does not fit the model."""


class CstaScorer:
    """Callable mapping (T, 1024) features to (T,) importance scores in [0, 1].

    ``weights`` is a plain state dict as training writes it (``weights/{SumMe,TVSum}/splitK.pt``).
    The model is built with the options in the JSON record beside it (checkpoints trained here);
    checkpoints without one (the original authors') use ``config`` (default: the paper's model).
    """

    def __init__(self, weights, device: str | torch.device = "cpu", config: Config | None = None):
        path = Path(weights)
        config = config or Config()
        try:
            state = load_checkpoint(path)
        except MissingCheckpoint:
            raise CheckpointError(
                f"{path}: CSTA checkpoint not found. Train one with `python train.py` (writes "
                f"weights/{{SumMe,TVSum}}/split1..5.pt) or `python train.py --demo` (weights/demo/...), "
                f"or place the original authors' weights there, then pass --weights PATH") from None
        except ValueError as error:
            raise CheckpointError(str(error)) from None
        record = read_record(path.with_suffix(".json"))
        self.config = config_for_checkpoint(config, record)
        self.options_from = "its record" if record is not None and "config" in record else "the command line"
        self.model = build_model(self.config, pretrained=False)
        try:
            load_model_weights(self.model, state, path, f"{self.config.model_name} with options from "
                                                        f"{self.options_from}")
        except ValueError as error:
            raise CheckpointError(str(error)) from None
        self.device = torch.device(device)
        self.model.to(self.device).eval()

    @torch.no_grad()
    def __call__(self, features: np.ndarray) -> np.ndarray:
        inputs = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(self.device)
        return self.model(inputs).float().cpu().numpy().reshape(-1)
