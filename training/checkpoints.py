"""Checkpoints as the original writes them (a plain state dict), with a JSON record beside each.

Files are written whole or not at all (``evaluation.files``), so an interrupted run never leaves a
half-written checkpoint and never damages the previous good one.
The JSON record is written last: a split counts as finished only when both files are complete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from evaluation.files import write_atomically, write_json_atomically

#: Config fields that change what training produces; a finished split is reused only when they match.
TRAINING_FIELDS = ("seed", "epochs", "batch_size", "learning_rate", "weight_decay", "pretrained", "selection",
                   "deterministic", "amp")


def checkpoint_paths(weights_dir: str | Path, dataset: str, split: int) -> tuple[Path, Path]:
    """``WEIGHTS_DIR/{dataset}/split{k}.pt`` and its ``.json`` record."""
    folder = Path(weights_dir) / dataset
    return folder / f"split{split}.pt", folder / f"split{split}.json"


def save_checkpoint(weights_dir: str | Path, dataset: str, split: int, state_dict: dict[str, torch.Tensor],
                    record: dict[str, Any]) -> tuple[Path, Path]:
    weights_path, record_path = checkpoint_paths(weights_dir, dataset, split)
    record_path.unlink(missing_ok=True)          # the split is unfinished until both files are written
    cpu_state = {name: tensor.detach().cpu().contiguous() for name, tensor in state_dict.items()}
    write_atomically(weights_path, lambda file: torch.save(cpu_state, file))
    write_json_atomically(record_path, {**record, "weights": weights_path.name, "complete": True})
    return weights_path, record_path


def read_record(record_path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def training_fingerprint(config) -> dict[str, Any]:
    """The options that determine a split's trained weights: the model switches and TRAINING_FIELDS."""
    return {**config.model_options(), **{name: getattr(config, name) for name in TRAINING_FIELDS}}


def split_is_finished(weights_dir: str | Path, dataset: str, split: int, fingerprint: dict[str, Any]) -> bool:
    """True when the split's checkpoint and record exist and were trained with the same options."""
    weights_path, record_path = checkpoint_paths(weights_dir, dataset, split)
    record = read_record(record_path)
    if record is None or not record.get("complete") or not weights_path.is_file():
        return False
    return record.get("fingerprint") == fingerprint


class MissingCheckpoint(FileNotFoundError):
    pass


def load_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict saved by this project or by the original code, with a clear error when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise MissingCheckpoint(f"{path}: checkpoint not found. Train it with `python train.py` "
                                f"or place the original authors' weights there.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({error})") from error
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict, found a {type(state).__name__}")
    return state
