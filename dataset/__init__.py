"""Video summarization datasets (the eccv16 and Mr.HiSum h5 layouts) and their train/test splits.

An eccv16 file (SumMe, TVSum, OVP, YouTube) holds one group per video (`video_1`, ...) with the GoogLeNet
pool5 `features` of every 15th frame, the ground-truth `gtscore`, the shots (`change_points`) and the users'
keyshot summaries (`user_summary`); Mr.HiSum's holds one step per second. `load_h5` reads a file once and
checks each video against its layout's rules (`dataset.rules`, `dataset.eccv16`, `dataset.mrhisum`): what a
video must hold depends on what it is used for, and a layout the reference code computes on is computed on and
said once per file. Every refusal is a `DatasetError` naming the file, the video and the field. `write_eccv16`
writes the eccv16 layout; `read_splits_file` reads split files in the field's formats. Only numpy and h5py.
"""

from .errors import DatasetError, DatasetNotice, PathLike, one_line
from .fields import FEATURE_MAGNITUDE_LIMIT, natural_key, natural_sorted
from .loading import SCHEMAS, InvalidVideos, LoadedVideos, check_is_hdf5, load_h5, read_features
from .paths import (DATA_DIR, DATASET_NAMES, DOWNLOAD_HINT, FEATURE_DIM, REPO_ROOT, SPLITS_DIR,
                    canonical_dataset_name, default_h5_path, h5_file_name, splits_path)
from .records import Split, VideoRecord
from .rules import ALL_ROLES, PREDICT, ROLES, SCORE, TRAIN
from .splits import (ROLES as SPLIT_ROLES, SPLIT_FORMATS, RepeatedField, check_split_keys, load_json_strictly,
                     load_splits, read_splits_file, split_records)
from .writer import write_eccv16

__all__ = ["DatasetError", "DatasetNotice", "InvalidVideos", "LoadedVideos", "VideoRecord", "Split", "load_h5",
           "read_features", "check_is_hdf5", "write_eccv16", "read_splits_file", "load_splits", "check_split_keys", "split_records",
           "load_json_strictly", "RepeatedField", "SCHEMAS", "canonical_dataset_name", "default_h5_path",
           "h5_file_name", "splits_path", "natural_key", "natural_sorted", "one_line", "DATA_DIR", "SPLITS_DIR",
           "REPO_ROOT", "FEATURE_DIM", "DATASET_NAMES", "DOWNLOAD_HINT", "FEATURE_MAGNITUDE_LIMIT", "PathLike",
           "ROLES", "ALL_ROLES", "TRAIN", "PREDICT", "SCORE", "SPLIT_ROLES", "SPLIT_FORMATS"]
