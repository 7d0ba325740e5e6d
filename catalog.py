"""The datasets this project trains and scores on, each a described value: files, splits, protocol, sampling.

A :class:`DatasetSpec` says where a dataset's h5 file and split file are, which h5 layout the file
has (``eccv16``: features every 15th frame with ``picks``; ``mrhisum``: one step per second, every
step scored) and which evaluation protocol scores it. SumMe, TVSum and Mr.HiSum are built in;
SumMe and TVSum also come in DSNet's *augmented* and *transfer* settings (OVP, YouTube and the
other dataset added to the training videos); any other dataset is a small JSON description::

    {"name": "my_videos", "h5": "my.h5", "splits": "my_splits.json", "protocol": "SumMe"}

(paths relative to the JSON file; ``python -m video.make_dataset`` writes one). Reading and checking
the files is ``dataset.py``'s job; this module only says where they are and how they are scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dataset import (SCHEMAS, DOWNLOAD_HINT, DatasetError, canonical_dataset_name, default_h5_path, load_json_strictly,
                     RepeatedField, splits_path)

#: Training settings of SumMe and TVSum: CSTA's splits, or DSNet's split files (its names).
SETTINGS = {
    "canonical": None,
    "augmented": "{lower}_aug.yml",
    "transfer": "{lower}_trans.yml",
}

SETTING_HINT = ("The augmented and transfer split files are DSNet's (https://github.com/li-plus/DSNet, "
                "folder splits/: summe_aug.yml, summe_trans.yml, tvsum_aug.yml, tvsum_trans.yml); put them "
                "in {splits_dir}. Their keys name eccv16_dataset_{{summe,tvsum,ovp,youtube}}_google_pool5.h5, "
                "which must all be in {data_dir} (OVP and YouTube are in the same archives as SumMe and TVSum).")

MRHISUM_HINT = ("Mr.HiSum's features are distributed by its authors (https://github.com/MRHiSum/MR.HiSum, "
                "see dataset/DATASET.md): build mr_hisum.h5 with their preprocessing and put it, with "
                "mr_hisum_split.json from their dataset/ folder, in {data_dir}.")

#: Videos per dataset as the original counts them for a fractional batch_size (N x 0.8 x f).
ORIGINAL_SIZES = {"SumMe": 25, "TVSum": 50}


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset as train.py, inference.py and ``python -m evaluation`` need it."""

    name: str                           #: folder and table name (weights/NAME/split1.pt)
    protocol: str                       #: key of evaluation.protocols.PROTOCOLS
    h5_path: Path
    splits_path: Path
    schema: str = "eccv16"              #: h5 layout, key of dataset.SCHEMAS
    annotations_path: Path | None = None
    fraction_base: int | None = None    #: N of a fractional batch_size; None: the number of videos in the file
    hint: str = ""                      #: where the files come from, said when they are missing


def builtin(name: str, *, data_dir: str | Path, splits_dir: str | Path, setting: str = "canonical",
            annotations_path: Path | None = None) -> DatasetSpec:
    """SumMe, TVSum (any setting) or MrHiSum, with their files in ``data_dir`` / ``splits_dir``."""
    data_dir, splits_dir = Path(data_dir), Path(splits_dir)
    if setting not in SETTINGS:
        raise ValueError(f"setting: {setting!r} is not one of {', '.join(SETTINGS)}")
    if name.lower() == "mrhisum":
        if setting != "canonical":
            raise ValueError(f"setting: {setting!r} exists for SumMe and TVSum only")
        split_file = next((data_dir / f for f in ("mr_hisum_split.json", "mrsum_split.json")
                           if (data_dir / f).is_file()), data_dir / "mr_hisum_split.json")
        return DatasetSpec("MrHiSum", "MrHiSum", data_dir / "mr_hisum.h5", split_file, schema="mrhisum",
                           hint=MRHISUM_HINT.format(data_dir=data_dir))
    canonical = canonical_dataset_name(name)
    if canonical not in ORIGINAL_SIZES:
        raise ValueError(f"datasets: unknown dataset {name!r}: expected SumMe, TVSum, MrHiSum or a dataset "
                         f"description .json")
    pattern = SETTINGS[setting]
    if pattern is None:
        splits, label = splits_path(canonical, splits_dir), canonical
        hint = DOWNLOAD_HINT.format(data_dir=data_dir)
    else:
        splits, label = splits_dir / pattern.format(lower=canonical.lower()), f"{canonical}-{setting}"
        hint = SETTING_HINT.format(splits_dir=splits_dir, data_dir=data_dir)
    return DatasetSpec(label, canonical, default_h5_path(canonical, data_dir), splits,
                       annotations_path=annotations_path if canonical == "TVSum" else None,
                       fraction_base=ORIGINAL_SIZES[canonical], hint=hint)


DESCRIPTION_FIELDS = {"name", "h5", "splits", "protocol", "schema", "annotations"}

#: Longest dataset name in UTF-8 bytes: it becomes a folder (weights/NAME) and part of file names
#: (results/NAME_split10.jsonl, their temporary names), and a name is at most 255 bytes on common file systems.
NAME_LIMIT = 200
#: Longest part of a path between slashes, in UTF-8 bytes (NAME_MAX on Linux and macOS).
PATH_PART_LIMIT = 255


def from_description(path: str | Path) -> DatasetSpec:
    """A dataset described by a JSON file (paths relative to it); errors name the file and the field."""
    path = Path(path)
    data = _read_description(path)
    unknown = sorted(set(data) - DESCRIPTION_FIELDS)
    if unknown:
        raise DatasetError(path, f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(DESCRIPTION_FIELDS))}",
                           field=unknown[0])
    for field in ("name", "h5", "splits", "protocol"):
        _text_field(path, data, field)
    from evaluation.protocols import get_protocol      # scipy: loaded when a description is read, not for --help

    try:
        scoring = get_protocol(data["protocol"])
    except ValueError as error:
        raise DatasetError(path, str(error), field="protocol") from None
    protocol = scoring.name
    schema = _text_field(path, data, "schema") if "schema" in data else scoring.schema
    if schema not in SCHEMAS:
        raise DatasetError(path, f"{schema!r} is not one of {', '.join(SCHEMAS)}", field="schema")
    if scoring.needs_features and schema != scoring.schema:
        raise DatasetError(path, f"{schema!r} cannot be scored with the {protocol} protocol, which scores one "
                                 f"step per second: use \"schema\": \"{scoring.schema}\"", field="schema")
    name = _folder_name(path, data["name"].strip())
    files = {field: _path_field(path, data, field) for field in ("h5", "splits")}
    annotations = None
    if "annotations" in data:
        if not scoring.needs_annotations:
            raise DatasetError(path, f"only the TVSum protocol reads annotations (this dataset is scored with "
                                     f"{protocol}'s)", field="annotations")
        annotations = _path_field(path, data, "annotations")
    elif scoring.needs_annotations:
        raise DatasetError(path, f"the {protocol} protocol scores tau and rho against the annotators' frame scores: "
                                 "name their file (ydata-anno.tsv layout; for the real TVSum videos, "
                                 "data/ydata-anno.tsv.gz)", field="annotations")
    return DatasetSpec(name, protocol, files["h5"], files["splits"], schema=schema,
                       annotations_path=annotations, hint=f"(described by {path})")


def _read_description(path: Path) -> dict:
    from storage.files import InputFileError, read_input_text

    try:
        data = load_json_strictly(read_input_text(path, "dataset description"))
    except InputFileError as error:
        raise DatasetError(path, str(error).removeprefix(f"{path}: ")) from None
    except RecursionError:
        raise DatasetError(path, "cannot be read as a JSON dataset description (nested too deeply)") from None
    except RepeatedField as repeated:
        raise DatasetError(path, "appears twice (JSON would keep the last silently)", field=repeated.field) from None
    except (OSError, ValueError) as error:              # JSON syntax, a field named twice, the int digit limit
        raise DatasetError(path, f"cannot be read as a JSON dataset description ({error})") from None
    if not isinstance(data, dict):
        raise DatasetError(path, "expected a JSON object with name, h5, splits and protocol")
    return data


def _text_field(path: Path, data: dict, field: str) -> str:
    if field not in data:
        raise DatasetError(path, "missing", field=field)
    value = data[field]
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(path, f"expected a non-empty string, got {_kind(value)}", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise DatasetError(path, f"{value!r} is not valid Unicode text (a lone surrogate)", field=field) from None
    if not value.isprintable():
        raise DatasetError(path, f"{value!r} contains control characters", field=field)
    return value


def _kind(value) -> str:
    """What a JSON value is, in JSON's words."""
    if isinstance(value, str):
        return "an empty string"
    names = {type(None): "null", bool: "a boolean", int: "a number", float: "a number", list: "an array",
             dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _folder_name(path: Path, name: str) -> str:
    """The dataset's name as it will name folders and files: one plain, not too long, path part."""
    if "/" in name or "\\" in name or name.startswith("."):
        raise DatasetError(path, f"{name!r} must be a plain folder name", field="name")
    size = len(name.encode("utf-8"))
    if size > NAME_LIMIT:
        raise DatasetError(path, f"{size} bytes long (it names folders and files): at most {NAME_LIMIT}",
                           field="name")
    return name


def _path_field(path: Path, data: dict, field: str) -> Path:
    """A file named by the description, relative to it; a part too long for any file system is refused here."""
    value = _text_field(path, data, field)
    longest = max(Path(value).parts, key=lambda part: len(part.encode("utf-8")), default="")
    if len(longest.encode("utf-8")) > PATH_PART_LIMIT:
        raise DatasetError(path, f"a part of the path is {len(longest.encode('utf-8'))} bytes long: at most "
                                 f"{PATH_PART_LIMIT}", field=field)
    return path.resolve().parent / value


def resolve(entry: str, *, data_dir, splits_dir, setting: str = "canonical",
            annotations_path: Path | None = None) -> DatasetSpec:
    """A ``--datasets`` entry: a built-in name or the path of a JSON description."""
    if entry.lower().endswith(".json"):
        return from_description(entry)
    return builtin(entry, data_dir=data_dir, splits_dir=splits_dir, setting=setting,
                   annotations_path=annotations_path)
