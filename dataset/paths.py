"""Where the built-in datasets' files are, and what their files are called."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

PathLike = Union[str, Path]

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
SPLITS_DIR = DATA_DIR / "splits"

FEATURE_DIM = 1024
DATASET_NAMES = ("SumMe", "TVSum")

DOWNLOAD_HINT = (
    "The eccv16 files (eccv16_dataset_summe_google_pool5.h5, eccv16_dataset_tvsum_google_pool5.h5) "
    "are not distributed with this project. Get them from the PGL-SUM repository, which hosts both "
    "as RAR archives under data/ (https://github.com/e-apostolidis/PGL-SUM), or from DSNet's dataset "
    "archive (https://github.com/li-plus/DSNet, see the README's dataset download), and place the "
    "unpacked .h5 files in {data_dir}."
)


def canonical_dataset_name(dataset_name: str) -> str:
    """'summe' -> 'SumMe', 'TVSUM' -> 'TVSum'; other names are returned unchanged."""
    for known in DATASET_NAMES:
        if dataset_name.lower() == known.lower():
            return known
    return dataset_name


def h5_file_name(dataset_name: str) -> str:
    return f"eccv16_dataset_{dataset_name.lower()}_google_pool5.h5"


def default_h5_path(dataset_name: str, data_dir: Optional[PathLike] = None) -> Path:
    """`data/eccv16_dataset_{summe,tvsum}_google_pool5.h5`, relative to the repository."""
    return Path(data_dir if data_dir is not None else DATA_DIR) / h5_file_name(dataset_name)


def splits_path(dataset_name: str, splits_dir: Optional[PathLike] = None) -> Path:
    """`data/splits/{SumMe,TVSum}_splits.txt`, relative to the repository."""
    directory = Path(splits_dir if splits_dir is not None else SPLITS_DIR)
    return directory / f"{canonical_dataset_name(dataset_name)}_splits.txt"


def is_standard_file_name(path: Path) -> bool:
    return path.name in {h5_file_name(name) for name in DATASET_NAMES}

