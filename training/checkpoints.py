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
TRAINING_FIELDS = ("seed", "epochs", "batch_size", "videos_per_step", "learning_rate", "weight_decay", "pretrained",
                   "selection", "deterministic", "amp", "per_video_rng", "setting")


def checkpoint_paths(weights_dir: str | Path, dataset: str, split: int) -> tuple[Path, Path]:
    """``WEIGHTS_DIR/{dataset}/split{k}.pt`` and its ``.json`` record."""
    folder = Path(weights_dir) / dataset
    return folder / f"split{split}.pt", folder / f"split{split}.json"


def progress_path(weights_dir: str | Path, dataset: str, split: int) -> Path:
    """``WEIGHTS_DIR/{dataset}/split{k}.progress.pt``: an unfinished split's state after its last epoch."""
    return Path(weights_dir) / dataset / f"split{split}.progress.pt"


def save_progress(path: Path, config, state: dict[str, Any]) -> None:
    """Everything needed to continue a split after an epoch, written whole or not at all (kill-safe, no fsync)."""
    payload = {**state, "fingerprint": training_fingerprint(config)}
    write_atomically(path, lambda file: torch.save(payload, file), durable=False)


class ProgressWriter:
    """Writes progress files in a background thread while the next epoch trains (one write at a time).

    The state handed to :meth:`submit` must be copies (it is serialised later). Temporaries that a
    killed run left behind are removed when the writer starts.
    """

    def __init__(self, path: Path | None):
        self.path = path
        self._thread = None
        self._error: BaseException | None = None
        if path is not None and path.parent.is_dir():
            for stale in path.parent.glob(f".{path.name}.*.tmp"):
                stale.unlink(missing_ok=True)

    def submit(self, config, state: dict[str, Any]) -> None:
        import threading

        self.wait()

        def run() -> None:
            try:
                save_progress(self.path, config, state)
            except BaseException as error:          # reported by wait(), in the training thread
                self._error = error

        self._thread = threading.Thread(target=run, name="progress-writer", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def load_progress(path: Path, config) -> dict[str, Any] | None:
    """The saved state of an unfinished split, or None when it was trained with other options (or is unreadable)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:
        return None
    if not isinstance(state, dict) or state.get("fingerprint") != training_fingerprint(config):
        return None
    return state


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
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "weights_only" in str(error) or "Unpickl" in type(error).__name__ or "pickle" in str(error).lower():
            reason = "its content is not a plain state dict of tensors"
        raise ValueError(f"{path}: not a PyTorch checkpoint ({reason[:120]}); expected a state dict saved by "
                         f"train.py or the original code") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a state dict of tensors, found a {type(state).__name__}")
    return state


def describe_mismatch(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor], limit: int = 3) -> str:
    """Which keys and shapes of a checkpoint differ from the model's, briefly."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shapes = sorted(k for k in set(expected) & set(found) if tuple(expected[k].shape) != tuple(found[k].shape))
    parts = []
    for label, keys in (("missing", missing), ("unexpected", unexpected)):
        if keys:
            parts.append(f"{len(keys)} {label} key(s) ({', '.join(keys[:limit])}{', ...' if len(keys) > limit else ''})")
    if shapes:
        shown = ", ".join(f"{k} {tuple(found[k].shape)} vs {tuple(expected[k].shape)}" for k in shapes[:limit])
        parts.append(f"{len(shapes)} shape(s) differ ({shown}{', ...' if len(shapes) > limit else ''})")
    return "; ".join(parts) or "no difference in keys or shapes"


def config_for_checkpoint(config, record: dict[str, Any] | None):
    """The model options a checkpoint was trained with (from its record), keeping this run's other options.

    Checkpoints of the original code have no record: their options are this run's (the command line).
    """
    if record is None or "config" not in record:
        return config
    from config import Config

    trained = Config.from_dict({k: v for k, v in record["config"].items() if k in Config.field_names()})
    return config.replace(**trained.model_options())


def load_model_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path, options: str) -> None:
    """``load_state_dict(strict=True)`` with an error that says which keys or shapes differ."""
    expected = model.state_dict()
    if set(expected) != set(state) or any(tuple(expected[k].shape) != tuple(state[k].shape) for k in expected):
        raise ValueError(f"{path}: does not fit the model {options}: {describe_mismatch(expected, state)}; "
                         f"pass the options it was trained with")
    model.load_state_dict(state, strict=True)
