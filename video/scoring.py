"""CSTA importance scores for a video's sampled features, from a checkpoint in the original format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from config import Config
from model import build_model
from storage.checkpoints import (MissingCheckpoint, RecordError, config_for_checkpoint, load_checkpoint,
                                 load_model_weights, read_record)


class CheckpointError(Exception):
    """A CSTA checkpoint that is missing or does not fit the model."""


class NonFiniteScores(CheckpointError):
    """The model gave NaN or infinite scores: ``detail`` says which of its weights are not finite."""

    def __init__(self, checkpoint: Path, detail: str):
        super().__init__(f"{checkpoint}: the model gives NaN or infinite scores ({detail})")
        self.checkpoint, self.detail = checkpoint, detail


class CstaScorer:
    """Callable mapping (T, 1024) features to (T,) importance scores in [0, 1].

    ``weights`` is a plain state dict as training writes it (``weights/{SumMe,TVSum}/splitK.pt``).
    The model is built with the options in the JSON record beside it (checkpoints trained here);
    checkpoints without one (the original authors') use ``config`` (default: the paper's model), and so
    do all with ``use_record=False``.
    """

    def __init__(self, weights, device: str | torch.device = "cpu", config: Config | None = None,
                 use_record: bool = True):
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
        record = read_record(path.with_suffix(".json")) if use_record else None
        try:
            self.config = config_for_checkpoint(config, record, path.with_suffix(".json"))
        except RecordError as error:
            raise CheckpointError(str(error)) from None
        self.options_from = "its record" if record is not None and "config" in record else "the command line"
        self.model = build_model(self.config, pretrained=False)
        try:
            load_model_weights(self.model, state, path, f"{self.config.model_name} with options from "
                                                        f"{self.options_from}")
        except ValueError as error:
            raise CheckpointError(str(error)) from None
        self.path = path
        self.device = torch.device(device)
        self.model.to(self.device).eval()

    @torch.no_grad()
    def __call__(self, features: np.ndarray) -> np.ndarray:
        """Scores of one video's features; :class:`NonFiniteScores` when any is NaN or infinite.

        The weights are not checked when loaded: a checkpoint may hold non-finite values in tensors
        the scores never use (the CNN's ImageNet classifier, kept for the original's names).
        """
        inputs = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(self.device)
        scores = self.model(inputs).float().cpu().numpy().reshape(-1)
        if not np.isfinite(scores).all():
            raise NonFiniteScores(self.path, self._non_finite_weights())
        return scores

    def _non_finite_weights(self) -> str:
        names = [name for name, tensor in self.model.state_dict().items()
                 if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
        if not names:
            return "its weights are finite: the features or the model overflowed"
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        return f"NaN or infinite weights in {shown}"
