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

import json
from dataclasses import dataclass
from pathlib import Path

from dataset import SCHEMAS, DOWNLOAD_HINT, DatasetError, canonical_dataset_name, default_h5_path, splits_path

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


def from_description(path: str | Path) -> DatasetSpec:
    """A dataset described by a JSON file (paths relative to it); errors name the file and the field."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(path, "dataset description not found") from None
    except (OSError, ValueError) as error:
        raise DatasetError(path, f"cannot be read as a JSON dataset description ({error})") from None
    if not isinstance(data, dict):
        raise DatasetError(path, "expected a JSON object with name, h5, splits and protocol")
    unknown = sorted(set(data) - DESCRIPTION_FIELDS)
    if unknown:
        raise DatasetError(path, f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(DESCRIPTION_FIELDS))}",
                           field=unknown[0])
    for field in ("name", "h5", "splits", "protocol"):
        if not isinstance(data.get(field), str) or not data[field].strip():
            raise DatasetError(path, "missing or not a string", field=field)
    from evaluation.protocols import get_protocol      # scipy: loaded when a description is read, not for --help

    try:
        protocol = get_protocol(data["protocol"]).name
    except ValueError as error:
        raise DatasetError(path, str(error), field="protocol") from None
    schema = data.get("schema", "mrhisum" if protocol == "MrHiSum" else "eccv16")
    if schema not in SCHEMAS:
        raise DatasetError(path, f"{schema!r} is not one of {', '.join(SCHEMAS)}", field="schema")
    name = data["name"].strip()
    if "/" in name or name.startswith("."):
        raise DatasetError(path, f"{name!r} must be a plain folder name", field="name")
    base = path.resolve().parent
    annotations = base / data["annotations"] if data.get("annotations") else None
    return DatasetSpec(name, protocol, base / data["h5"], base / data["splits"], schema=schema,
                       annotations_path=annotations, hint=f"(described by {path})")


def resolve(entry: str, *, data_dir, splits_dir, setting: str = "canonical",
            annotations_path: Path | None = None) -> DatasetSpec:
    """A ``--datasets`` entry: a built-in name or the path of a JSON description."""
    if entry.lower().endswith(".json"):
        return from_description(entry)
    return builtin(entry, data_dir=data_dir, splits_dir=splits_dir, setting=setting,
                   annotations_path=annotations_path)
