"""Split files in the field's formats: CSTA's text lines, PGL-SUM's and Mr.HiSum's JSON, DSNet's YAML."""
from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Mapping, Optional

from .errors import DatasetError, PathLike
from .fields import encodable, preview
from .paths import canonical_dataset_name, splits_path
from .records import Split, VideoRecord


def load_splits(dataset_name: str, splits_dir: Optional[PathLike] = None) -> list[Split]:
    """The splits of `{splits_dir}/{SumMe,TVSum}_splits.txt` (default: the repository's data/splits)."""
    return read_splits_file(splits_path(dataset_name, splits_dir), dataset_name)


#: Split file formats by suffix: CSTA's text lines, PGL-SUM's JSON list / Mr.HiSum's JSON object, DSNet's YAML.
SPLIT_FORMATS = {".txt": "csta", ".json": "json", ".yml": "yaml", ".yaml": "yaml"}


def read_splits_file(path: PathLike, dataset_name: Optional[str] = None, *,
                     require_training: bool = True) -> list[Split]:
    """Read a split file in any of the field's formats (see `SPLIT_FORMATS`).

    * CSTA (`.txt`): lines `Dataset/splitK/train_keys/test_keys`, keys comma-separated;
    * PGL-SUM (`.json`) and DSNet (`.yml`): a list of `{"train_keys": [...], "test_keys": [...]}`;
    * Mr.HiSum (`.json`): one object `{"train_keys", "val_keys", "test_keys"}` (a single split).

    require_training: False accepts splits without training videos (scoring reads only the others).
    """
    from storage.files import InputFileError, check_input_file, read_input_text

    path = Path(path)
    try:
        check_input_file(path, "split file")
        kind = SPLIT_FORMATS.get(path.suffix.lower())
        if kind is None:
            raise DatasetError(path, f"unknown split file type {path.suffix!r}: expected one of "
                                     f"{', '.join(SPLIT_FORMATS)}")
        text = read_input_text(path, "split file")
    except InputFileError as error:
        raise DatasetError(path, str(error).removeprefix(f"{path}: ")) from None
    if kind == "csta":
        lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if not lines:
            raise DatasetError(path, "split file has no splits")
        splits = [_parse_split_line(path, number, line, dataset_name, require_training) for number, line in lines]
    else:
        splits = _parse_split_lists(path, _load_structured(path, text, kind), require_training)
    return [dataclasses.replace(split, number=index) for index, split in enumerate(splits, start=1)]


class RepeatedField(ValueError):
    """A JSON object or YAML mapping that names a field twice (the parsers keep the last silently)."""

    def __init__(self, field: str):
        self.field = field
        super().__init__(f"field {field!r} appears twice in one object")


def _unique_fields(pairs: list) -> dict:
    counts = Counter(key for key, _ in pairs)
    repeated = [key for key, count in counts.items() if count > 1]
    if repeated:
        raise RepeatedField(repeated[0])
    return dict(pairs)


def load_json_strictly(text: str):
    """`json.loads`, refusing objects that name a field twice; errors are ValueError or RecursionError."""
    try:
        return json.loads(text, object_pairs_hook=_unique_fields)
    except (json.JSONDecodeError, RepeatedField):
        raise
    except ValueError as error:                    # Python's limit on the digits of an integer
        raise ValueError(str(error).split("; use sys.")[0]) from None


def _check_yaml_fields_unique(text: str) -> None:
    """Refuse a YAML mapping that names a key twice; composing builds nodes only, never Python objects."""
    import yaml

    stack, seen = [yaml.compose(text, Loader=yaml.SafeLoader)], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:                 # aliases share their node
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            scalars = Counter((key.tag, key.value) for key, _ in node.value if isinstance(key, yaml.ScalarNode))
            repeated = [value for (_, value), count in scalars.items() if count > 1]
            if repeated:
                raise RepeatedField(repeated[0])
            stack.extend(value for pair in node.value for value in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _load_structured(path: Path, text: str, kind: str):
    try:
        if kind == "json":
            return load_json_strictly(text)
        import yaml

        _check_yaml_fields_unique(text)
        return yaml.safe_load(text)
    except ImportError:
        raise DatasetError(path, "reading YAML split files needs PyYAML (pip install pyyaml)") from None
    except RepeatedField as repeated:
        raise DatasetError(path, str(repeated)) from None
    except RecursionError:
        raise DatasetError(path, f"cannot be parsed as {kind.upper()}: nested too deeply") from None
    except Exception as error:                     # json.JSONDecodeError, yaml.YAMLError, int digit limit
        raise DatasetError(path, f"cannot be parsed as {kind.upper()}: {error}".splitlines()[0]) from None


ROLES = ("train_keys", "val_keys", "test_keys")


def _parse_split_lists(path: Path, data, require_training: bool = True) -> list[Split]:
    entries = [data] if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise DatasetError(path, "expected a list of {train_keys, test_keys} objects or one "
                                 "{train_keys, val_keys, test_keys} object")
    splits = []
    for index, entry in enumerate(entries, start=1):
        def fail(problem: str) -> DatasetError:
            return DatasetError(path, f"split {index}: {problem}")

        if not isinstance(entry, dict):
            raise fail("expected an object with train_keys and test_keys")
        unknown = sorted(str(field) for field in entry if field not in ROLES)
        if unknown:
            raise fail(f"unknown field(s) {', '.join(unknown)}")
        roles = {}
        for role in ROLES:
            keys = entry.get(role, [])
            if not isinstance(keys, list):
                raise fail(f"{role}: expected a list of video keys, got {type(keys).__name__}")
            roles[role] = [_checked_key(key, position, fail, role) for position, key in enumerate(keys)]
        _check_roles(fail, roles, f"split {index}", require_training)
        splits.append(Split(train_keys=tuple(roles["train_keys"]), test_keys=tuple(roles["test_keys"]),
                            val_keys=tuple(roles["val_keys"]), name=f"split{index}", source=path))
    return splits


def _checked_key(key, position: int, fail, role: str) -> str:
    """A split file's video key, stripped and normalised; the problem names the role and the key's position."""
    if not isinstance(key, str) or not key.strip():
        raise fail(f"{role}: expected a list of video keys, entry {position} is {key!r}")
    key = key.strip()
    if not key.isprintable() or not encodable(key):
        raise fail(f"{role}: entry {position} {key!r} is not a plain video key (control characters or "
                   f"unencodable text)")
    normalised = _normalise_key(key)
    file_part, _, video = normalised.rpartition("/")
    if file_part and (not video or file_part == ".h5"):
        raise fail(f"{role}: entry {position} {key!r} names no video (expected FILE.h5/KEY)")
    return normalised


def _normalise_key(key: str) -> str:
    """`../datasets/eccv16_dataset_ovp_google_pool5.h5/video_3` -> `eccv16_dataset_ovp_google_pool5.h5/video_3`."""
    if ".h5/" in key:
        file_part, video = key.rsplit(".h5/", 1)
        return f"{Path(file_part + '.h5').name}/{video}"
    return key


def _check_roles(fail, roles: dict, name: str, require_training: bool = True) -> None:
    if (require_training and not roles["train_keys"]) or not roles["test_keys"]:
        raise fail("a split needs at least one training and one test video" if require_training
                   else "a split needs at least one test video")
    for role, keys in roles.items():
        repeated = sorted(key for key, count in Counter(keys).items() if count > 1)
        if repeated:
            raise fail(f"{role.replace('_keys', '')} keys repeated: {', '.join(repeated)}")
    for first, second in (("train_keys", "test_keys"), ("train_keys", "val_keys"), ("val_keys", "test_keys")):
        in_first = set(roles[first])
        both = [key for key in roles[second] if key in in_first]
        if both:
            raise fail(f"keys in both {first.replace('_keys', '')} and {second.replace('_keys', '')} of "
                       f"{name}: {', '.join(both)}")


def _parse_split_line(path: Path, number: int, line: str, dataset_name: Optional[str],
                      require_training: bool = True) -> Split:
    def fail(problem: str) -> DatasetError:
        return DatasetError(path, f"line {number}: {problem}")

    parts = line.split("/")
    if len(parts) != 4:
        raise fail(f"expected 'Dataset/splitK/train_keys/test_keys', got {len(parts)} "
                   f"'/'-separated fields")
    dataset, name, train_text, test_text = parts
    if dataset_name is not None and dataset.lower() != dataset_name.lower():
        raise fail(f"split of dataset '{dataset}', expected '{canonical_dataset_name(dataset_name)}'")
    roles = {"train_keys": _parse_keys(train_text, fail, "train_keys"), "val_keys": [],
             "test_keys": _parse_keys(test_text, fail, "test_keys")}
    _check_roles(fail, roles, name, require_training)
    return Split(train_keys=tuple(roles["train_keys"]), test_keys=tuple(roles["test_keys"]), name=name, source=path)


def _parse_keys(text: str, fail, role: str) -> list[str]:
    keys = [key.strip() for key in text.split(",") if key.strip()]
    return [_checked_key(key, position, fail, role) for position, key in enumerate(keys)]


def check_split_keys(split: Split, videos: Mapping[str, object], path: PathLike) -> None:
    """Fail with a clear message when a split names a video that `videos` (loaded from path) lacks."""
    missing = [key for key in split.keys if key not in videos]
    if missing:
        source = split.source if split.source is not None else "split"
        raise DatasetError(path, f"missing video key: {source} ({split.label}) names "
                                 f"{len(missing)} video(s) the file lacks: {preview(missing)}",
                           video=missing[0])


def split_records(split: Split, videos: Mapping[str, VideoRecord],
                  path: PathLike) -> tuple[list[VideoRecord], list[VideoRecord]]:
    """The (train, test) records of a split, in the split's order."""
    check_split_keys(split, videos, path)
    return [videos[key] for key in split.train_keys], [videos[key] for key in split.test_keys]
