"""The eccv16 layouts other people's code writes, made from a file in this project's eccv16 layout.

Each layout is known from public code (docs/real-files.md says where):

* ``dsnet``: DSNet's ``src/make_shots.py`` (how DSNet ships OVP and YouTube): ``features``, ``gtscore``,
  ``gtsummary``, ``n_frames = 15·T − 1``, ``picks = 15·i``, KTS shots ``[begin, end − 1]`` on the 15-frame grid,
  ``n_frame_per_seg = end − begin``; no ``user_summary``, ``n_steps`` or ``video_name``.
* ``kz``: K. Zhang's and VASNet's OVP and YouTube: ``features``, ``gtscore`` and ``gtsummary`` only.
* ``drdsn``: the DR-DSN generator (``utils/generate_dataset.py`` of pytorch-vsumm-reinforce): segments
  ``[c_i, c_{i+1} − 1]``, the last ``[c, n − 1]``, ``n_frame_per_seg = end − start`` (one less than the
  frames), an ``fps`` field, no ``n_steps``; the annotations a user adds (``gtscore``, ``user_summary``, ...)
  kept.

    python -m demo.layouts SOURCE.h5 TARGET.h5 --layout dsnet
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

import h5py
import numpy as np

SAMPLE_EVERY = 15


def _dsnet(group: h5py.Group) -> dict:
    gtscore = group["gtscore"][()].astype(np.float32)
    steps = gtscore.size
    n_frames = steps * SAMPLE_EVERY - 1
    starts = group["change_points"][()][:, 0]
    cuts = sorted({int(start) // SAMPLE_EVERY * SAMPLE_EVERY for start in starts[1:]} - {0})
    bounds = np.array([0, *[cut for cut in cuts if cut < n_frames], n_frames], dtype=np.int64)
    begin, end = bounds[:-1], bounds[1:]
    return {"features": group["features"][()].astype(np.float32), "gtscore": gtscore,
            "gtsummary": group["gtsummary"][()].astype(np.float32),
            "change_points": np.stack((begin, end - 1), axis=1), "n_frame_per_seg": end - begin,
            "n_frames": np.int64(n_frames), "picks": np.arange(steps, dtype=np.int64) * SAMPLE_EVERY}


def _kz(group: h5py.Group) -> dict:
    return {name: group[name][()].astype(np.float32) for name in ("features", "gtscore", "gtsummary")}


def _drdsn(group: h5py.Group) -> dict:
    fields = {name: group[name][()] for name in group if name not in ("n_steps", "n_frame_per_seg")}
    shots = fields["change_points"]
    fields["n_frame_per_seg"] = shots[:, 1] - shots[:, 0]
    fields["fps"] = np.float64(30.0)
    return fields


#: Layout name -> the fields of one video in that layout, made from one video group in this project's layout.
LAYOUTS: dict[str, Callable[[h5py.Group], dict]] = {"dsnet": _dsnet, "kz": _kz, "drdsn": _drdsn}


def write_layout(source: str | Path, target: str | Path, layout: str, keys=None) -> Path:
    """Write ``source``'s videos (or those of ``keys``) to ``target`` in ``layout``, under the same keys."""
    convert = LAYOUTS[layout]
    with h5py.File(source, "r") as h5, h5py.File(target, "w") as out:
        for key in keys if keys is not None else h5.keys():
            group = out.create_group(key)
            for name, value in convert(h5[key]).items():
                if isinstance(value, (str, bytes)) or (isinstance(value, np.ndarray) and value.dtype.kind in "SOU"):
                    group.create_dataset(name, data=value, dtype=h5py.string_dtype())
                else:
                    group.create_dataset(name, data=value)
    return Path(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.layouts", description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--layout", choices=sorted(LAYOUTS), required=True)
    args = parser.parse_args(argv)
    write_layout(args.source, args.target, args.layout)
    print(f"wrote {args.target} ({args.layout} layout)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
