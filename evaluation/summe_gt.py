"""SumMe's ground truth (Gygli et al., ECCV 2014): the official ``GT/NAME.mat`` files.

Each file holds one video's ``user_score`` (frames × users: 0 where a user did
not select the frame, else the number of the user's selection it falls in,
1, 2, …), ``nFrames`` and ``FPS``, besides ``gt_score``, ``segments``,
``video_duration`` and ``all_userIDs``, which are not read.  A user's keyshot
summary is ``user_score > 0``: the eccv16 h5 files' ``user_summary``.

The project ships the 25 files in ``data/summe_gt/`` (MATLAB v5), as K. Zhang's
ECCV 2016 repository redistributes them, for research purposes only.  MATLAB
v7.3 files (HDF5) are read too, through h5py.

The eccv16 files number the videos in the plain string order of their names
(capitals first): :data:`SUMME_VIDEOS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = [
    "SUMME_VIDEOS",
    "SummeTruth",
    "default_summe_gt_path",
    "load_summe_gt",
    "read_mat",
    "summe_truth",
]

#: The 25 SumMe videos in the eccv16 file's order (their names sorted as plain strings: capitals first).
SUMME_VIDEOS = (
    "Air_Force_One", "Base jumping", "Bearpark_climbing", "Bike Polo", "Bus_in_Rock_Tunnel", "Car_railcrossing",
    "Cockpit_Landing", "Cooking", "Eiffel Tower", "Excavators river crossing", "Fire Domino", "Jumps",
    "Kids_playing_in_leaves", "Notre_Dame", "Paintball", "Playing_on_water_slide", "Saving dolphines", "Scuba",
    "St Maarten Landing", "Statue of Liberty", "Uncut_Evening_Flight", "Valparaiso_Downhill", "car_over_camera",
    "paluma_jump", "playing_ball",
)


class SummeTruth(NamedTuple):
    """One video's ground truth."""

    selections: np.ndarray
    """(users, n_frames) float32, 1 where the user selected the frame (``user_score > 0``), else 0."""
    n_frames: int
    fps: float | None
    """``FPS`` when the file has a positive finite one, else None."""


def default_summe_gt_path() -> Path:
    """The project's copy: ``data/summe_gt/`` (found relative to the package, whatever the working directory)."""
    return Path(__file__).resolve().parent.parent / "data" / "summe_gt"


def _is_hdf5(path: Path) -> bool:
    """MATLAB v7.3 files are HDF5, whose signature sits at byte 0, 512, 1024, 2048, …"""
    signature = b"\x89HDF\r\n\x1a\n"
    with open(path, "rb") as file:
        offset = 0
        while True:
            file.seek(offset)
            head = file.read(len(signature))
            if len(head) < len(signature):
                return False
            if head == signature:
                return True
            offset = 512 if offset == 0 else offset * 2


def read_mat(path: Path) -> dict[str, np.ndarray]:
    """The variables of a MATLAB file: v5 through scipy, v7.3 (HDF5) through h5py, in MATLAB's orientation."""
    path = Path(path)
    if _is_hdf5(path):
        import h5py

        with h5py.File(path, "r") as h5:
            # MATLAB stores column-major: h5py sees every array transposed
            return {name: np.asarray(node[()]).T for name, node in h5.items() if isinstance(node, h5py.Dataset)}
    import scipy.io

    return {name: np.asarray(value) for name, value in scipy.io.loadmat(str(path)).items()
            if not name.startswith("__")}


def _scalar(values: np.ndarray) -> float | None:
    flat = np.asarray(values).reshape(-1)
    if flat.size != 1 or not np.issubdtype(flat.dtype, np.number) or np.issubdtype(flat.dtype, np.complexfloating):
        return None
    return float(flat[0])


def summe_truth(path: Path, where: str | None = None) -> SummeTruth:
    """The ground truth of a SumMe ``GT/NAME.mat``; ValueError names the file (``where``) and the field."""
    where = str(path) if where is None else where
    try:
        data = read_mat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{where}: not found") from None
    except Exception as error:          # scipy and h5py raise many kinds for a file that is not a MATLAB file
        raise ValueError(f"{where}: cannot be read as a MATLAB file ({type(error).__name__}: {error})") from None
    if "user_score" not in data:
        raise ValueError(f"{where}: field 'user_score': missing")
    scores = np.asarray(data["user_score"])
    if scores.ndim == 1:
        scores = scores[:, None]
    numeric = scores.dtype == np.bool_ or (np.issubdtype(scores.dtype, np.number)
                                           and not np.issubdtype(scores.dtype, np.complexfloating))
    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] == 0 or not numeric:
        raise ValueError(f"{where}: field 'user_score': expected a (frames × users) numeric array, got shape "
                         f"{scores.shape}, dtype {scores.dtype}")
    scores = scores.astype(np.float64)
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{where}: field 'user_score': contains NaN or infinite values")
    n_frames = scores.shape[0]
    if "nFrames" in data:
        declared = _scalar(data["nFrames"])
        if declared is None or not np.isfinite(declared) or declared != int(declared) or declared < 1:
            raise ValueError(f"{where}: field 'nFrames': expected a positive whole number")
        if int(declared) != n_frames:
            raise ValueError(f"{where}: field 'nFrames': {int(declared)}, but user_score has {n_frames} rows")
    fps = _scalar(data["FPS"]) if "FPS" in data else None
    fps = fps if fps is not None and np.isfinite(fps) and fps > 0 else None
    return SummeTruth(selections=(scores > 0).T.astype(np.float32), n_frames=n_frames, fps=fps)


def load_summe_gt(path=None) -> dict[str, SummeTruth]:
    """Every ``NAME.mat`` of a folder (default: the project's ``data/summe_gt/``; the release's folder, whose
    ``GT/`` holds them, works too), keyed by NAME in the eccv16 order (names sorted as plain strings)."""
    folder = default_summe_gt_path() if path is None else Path(path)
    if folder.is_dir() and (folder / "GT").is_dir() and not any(folder.glob("*.mat")):
        folder = folder / "GT"                                   # the release's folder
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (SumMe's ground truth, GT/NAME.mat)")
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() == ".mat" and not p.name.startswith(".")),
                   key=lambda p: p.stem)
    if not files:
        raise ValueError(f"{folder}: holds no NAME.mat file (SumMe's ground truth)")
    return {file.stem: summe_truth(file) for file in files}
