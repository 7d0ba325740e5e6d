"""Checkpoints as the original writes them (a plain state dict), with a JSON record beside each.

Files are written whole or not at all (``storage.files``), so an interrupted run never leaves a
half-written checkpoint and never damages the previous good one. A checkpoint and its record are
replaced together; the record, renamed last, holds the checkpoint's sha256, so a split counts as
finished only when the record describes the very weights beside it.

Nothing here unpickles arbitrary objects: checkpoints and progress files are read with
``torch.load(weights_only=True)`` (tensors and plain containers only), records and the lock file
are JSON.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from pathlib import Path
from typing import Any

import torch

from .files import json_text, replace_together, write_atomically


def checkpoint_paths(weights_dir: str | Path, dataset: str, split: int) -> tuple[Path, Path]:
    """``WEIGHTS_DIR/{dataset}/split{k}.pt`` and its ``.json`` record."""
    folder = Path(weights_dir) / dataset
    return folder / f"split{split}.pt", folder / f"split{split}.json"


def progress_path(weights_dir: str | Path, dataset: str, split: int) -> Path:
    """``WEIGHTS_DIR/{dataset}/split{k}.progress.pt``: an unfinished split's state after its last epoch."""
    return Path(weights_dir) / dataset / f"split{split}.progress.pt"


def save_progress(path: Path, config, state: dict[str, Any]) -> None:
    """Everything needed to continue a split after an epoch, written whole or not at all (kill-safe, no fsync)."""
    payload = _serialised({**state, "fingerprint": training_fingerprint(config)})
    write_atomically(path, lambda file: file.write(payload), durable=False)


def _serialised(obj) -> bytes:
    """``torch.save`` into memory first: a failing disk then raises a plain OSError naming the file,
    not the archive writer's chained RuntimeError."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


class ProgressWriter:
    """Writes progress files in a background thread while the next epoch trains (one write at a time).

    The state handed to :meth:`submit` must be copies (it is serialised later). ``written_epoch`` is the epoch
    of the last file known to be complete, set by the writing thread itself, so that a run stopped while a
    write is in flight reports what is really on disk. Temporaries that a killed run left behind are removed
    when the writer starts.
    """

    def __init__(self, path: Path | None, written_epoch: int = 0):
        self.path = path
        self.written_epoch = written_epoch
        self._thread = None
        self._error: BaseException | None = None
        if path is not None and path.parent.is_dir():
            for stale in path.parent.glob(f".{path.name}.*.tmp"):
                stale.unlink(missing_ok=True)

    def submit(self, config, state: dict[str, Any], epoch: int) -> None:
        import threading

        self.wait()

        def run() -> None:
            try:
                save_progress(self.path, config, state)
                self.written_epoch = epoch
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


class UnsafeFile(ValueError):
    """A file that holds objects this project never writes there: it is refused, not loaded."""


class ProgressWarning(UserWarning):
    """A progress file that cannot be continued; the split starts over."""


class DamagedProgress(ValueError):
    """A progress file that cannot be read (a write cut short by a power cut, a damaged copy)."""


def read_progress_file(path: Path) -> dict[str, Any]:
    """A progress file's content, loaded with ``weights_only=True`` (tensors and plain containers only).

    Raises :class:`UnsafeFile` for a file holding anything else (a pickle that would run code) or
    lacking a progress file's fields, and :class:`DamagedProgress` for one that cannot be read.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        if _refused_as_unsafe(error):
            raise UnsafeFile(f"{path}: refused: it holds objects a progress file never holds "
                             f"({_refused_objects(error)}); it was not loaded. Delete it to train the split "
                             f"from the start") from None
        raise DamagedProgress(f"{path}: damaged progress file ({_first_line(error, 100)})") from None
    if not isinstance(state, dict) or not isinstance(state.get("fingerprint"), dict) or not _is_progress_state(state):
        raise UnsafeFile(f"{path}: refused: not a progress file of this project (a {type(state).__name__} without "
                         f"the fields a progress file holds). Delete it to train the split from the start")
    return state


def load_progress(path: Path, config) -> dict[str, Any] | None:
    """The saved state of an unfinished split, or None when the split must start over.

    A file that would run code, or is not a progress file, raises :class:`UnsafeFile`. A damaged file
    is moved aside to ``NAME.damaged`` and one warning says so; a file of a run with other options is
    left for the new run to replace, with one warning naming the options that differ.
    """
    try:
        state = read_progress_file(path)
    except DamagedProgress as damaged:
        aside = path.with_name(path.name + ".damaged")
        path.replace(aside)
        warnings.warn(f"{damaged}, moved to {aside.name}; the split starts from epoch 1", ProgressWarning,
                      stacklevel=2)
        return None
    expected, fingerprint = training_fingerprint(config), state["fingerprint"]
    if not same_training(fingerprint, expected):
        differing = sorted(k for k in set(expected) | set(fingerprint) if expected.get(k) != fingerprint.get(k))
        warnings.warn(f"{path}: written by a run with other options ({', '.join(differing)}); the split starts "
                      f"from epoch 1 and its progress replaces this file", ProgressWarning, stacklevel=2)
        return None
    return state


#: The fields ``training.loop`` writes into a progress file, and their types.
PROGRESS_FIELDS = {"epoch": int, "model": dict, "optimizer": dict, "history": list, "log": list,
                   "best": (dict, type(None)), "best_state": (dict, type(None)), "rng": dict}


def _is_progress_state(state: dict) -> bool:
    return all(isinstance(state.get(name), kind) for name, kind in PROGRESS_FIELDS.items())


def _refused_as_unsafe(error: Exception) -> bool:
    import pickle

    return isinstance(error, pickle.UnpicklingError) and "weights_only" in str(error)


def _refused_objects(error: Exception) -> str:
    """What torch's ``weights_only`` loader refused, in this project's words: the objects it names
    (``posix.system``), never torch's own advice (which tells how to load the file anyway, with ANSI styling)."""
    import re

    text = str(error)
    names = sorted(set(re.findall(r"GLOBAL ([\w.]+)", text)) | set(re.findall(r"[Uu]nsupported class ([\w.]+)", text)))
    if names:
        return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return "objects other than tensors, numbers, strings, lists and dicts"


def _first_line(error: BaseException, limit: int | None = None) -> str:
    """The first line of an error's message, without terminal styling or control characters, cut at a word
    within ``limit`` characters."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(error)).strip()
    line = "".join(c for c in text.splitlines()[0] if c.isprintable()) if text else type(error).__name__
    if limit is not None and len(line) > limit:
        line = line[:limit].rsplit(" ", 1)[0].rstrip(" ,.;:") + "…"
    return line


def save_checkpoint(weights_dir: str | Path, dataset: str, split: int, state_dict: dict[str, torch.Tensor],
                    record: dict[str, Any]) -> tuple[Path, Path]:
    """Replace the split's checkpoint and record together; on any failure both previous files stay as they were."""
    weights_path, record_path = checkpoint_paths(weights_dir, dataset, split)
    cpu_state = {name: tensor.detach().cpu().contiguous() for name, tensor in state_dict.items()}
    weights = _serialised(cpu_state)
    full_record = {**record, "weights": weights_path.name, "weights_sha256": hashlib.sha256(weights).hexdigest(),
                   "complete": True}

    def write_record(file) -> None:
        file.write(json_text(full_record).encode())

    replace_together({weights_path: lambda file: file.write(weights), record_path: write_record})
    return weights_path, record_path


def read_record(record_path: Path) -> dict[str, Any] | None:
    """A checkpoint's JSON record, or None when there is none or it cannot be read as a JSON object."""
    from storage.files import read_input_text

    try:
        record = json.loads(read_input_text(record_path, "checkpoint record"))
    except (OSError, ValueError, RecursionError):          # InputFileError included
        return None
    return record if isinstance(record, dict) else None


def _file_sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def training_fingerprint(config) -> dict[str, Any]:
    """The options that determine a split's trained weights: those declared with role model or training."""
    return {**config.model_options(), **config.training_options()}


def same_training(recorded: dict[str, Any], fingerprint: dict[str, Any]) -> bool:
    """Whether a recorded fingerprint matches; an option it does not name was at its default then.

    Options declared after a split was trained keep such a split finished while they keep their default.
    """
    from config import Config

    defaults = {**Config().model_options(), **Config().training_options()}
    return {**{k: v for k, v in defaults.items() if k in fingerprint}, **recorded} == fingerprint


def split_is_finished(weights_dir: str | Path, dataset: str, split: int, fingerprint: dict[str, Any],
                      videos: dict[str, list[str]] | None = None, *, note: bool = False) -> bool:
    """True when the split's checkpoint and record exist and were trained with the same options and, when
    ``videos`` is given, on the same training, validation and test videos as the record names.

    A record that does not name its videos (``split_videos``: written by a release before records kept them)
    cannot show that the test videos scored now were held out: with ``videos`` given, its split is not finished.
    ``note``: say in one line why a split with a complete record is trained again (its videos changed, or
    its record does not name them).
    """
    weights_path, record_path = checkpoint_paths(weights_dir, dataset, split)
    record = read_record(record_path)
    if record is None or not record.get("complete") or not weights_path.is_file():
        return False
    if "weights_sha256" in record and record["weights_sha256"] != _file_sha256(weights_path):
        return False                     # the record describes other weights (a set replaced halfway)
    recorded = record.get("fingerprint")
    if not (isinstance(recorded, dict) and same_training(recorded, fingerprint)):
        return False
    if videos is None:
        return True
    if not isinstance(record.get("split_videos"), dict):
        if note:
            print(f"{dataset} split {split}: {record_path} does not name the videos it was trained on (written by "
                  f"an earlier release); trained again, since its test videos cannot be shown to be held out")
        return False
    if record["split_videos"] != videos:
        if note:
            changed = [role for role in videos if record["split_videos"].get(role) != videos[role]]
            print(f"{dataset} split {split}: its {' and '.join(changed)} videos differ from those {record_path} "
                  f"was trained with (the split file, or the videos left out, changed); trained again")
        return False
    return True


class MissingCheckpoint(FileNotFoundError):
    pass


def load_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict saved by this project or by the original code, with a clear error when it is missing."""
    from storage.files import InputFileError, check_input_file

    path = Path(path)
    try:
        check_input_file(path, "checkpoint")
    except InputFileError as error:
        if str(error).endswith(" not found"):
            raise MissingCheckpoint(f"{path}: checkpoint not found. Train it with `python train.py` "
                                    f"or place the original authors' weights there.") from None
        raise ValueError(str(error)) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        reason = _first_line(error, 120)
        if "weights_only" in str(error) or "Unpickl" in type(error).__name__ or "pickle" in str(error).lower():
            reason = "its content is not a plain state dict of tensors"
        raise ValueError(f"{path}: not a PyTorch checkpoint ({reason}); expected a state dict saved by "
                         f"train.py or the original code") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a state dict of tensors, found a {type(state).__name__}")
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"{path}: tensor '{name}' contains NaN or infinite values; the weights are unusable "
                             f"(a diverged or damaged checkpoint)")
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


class RecordError(ValueError):
    """A checkpoint record whose options cannot be used; names the record and the field."""


def config_for_checkpoint(config, record: dict[str, Any] | None, record_path: Path | str = "record"):
    """The model options a checkpoint was trained with (from its record), keeping this run's other options.

    Checkpoints of the original code have no record: their options are this run's (the command line).
    """
    if record is None or "config" not in record:
        return config
    from config import Config, ConfigError

    saved = record["config"]
    if not isinstance(saved, dict):
        raise RecordError(f"{record_path}: field 'config': expected an object of options, found a "
                          f"{type(saved).__name__}; pass --options-from command-line to ignore the record")
    try:
        trained = Config.from_dict({k: v for k, v in saved.items() if k in Config.field_names()})
    except (ConfigError, TypeError, ValueError) as error:
        raise RecordError(f"{record_path}: field 'config': {_first_line(error)}; pass --options-from "
                          f"command-line to ignore the record") from None
    return config.replace(**trained.model_options())


def load_model_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path, options: str) -> None:
    """``load_state_dict(strict=True)`` with an error that says which keys or shapes differ."""
    expected = model.state_dict()
    if set(expected) != set(state) or any(tuple(expected[k].shape) != tuple(state[k].shape) for k in expected):
        raise ValueError(f"{path}: does not fit the model {options}: {describe_mismatch(expected, state)}; "
                         f"pass the options it was trained with")
    model.load_state_dict(state, strict=True)
