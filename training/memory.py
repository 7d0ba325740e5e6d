"""Whether a dataset's features fit in the memory this process may use: estimated from the files' metadata
before a byte of features is read, so that a dataset larger than memory is refused with its remedy
(``--streaming``) instead of failing midway through loading (numpy's ``_ArrayMemoryError``, or the kernel's
out-of-memory killer).

The memory a process may use is the least of what Linux says is available (``MemAvailable``), what its
control group may still take (cgroup v2 or v1: a SLURM or container memory limit, less what it holds but
could drop) and its address-space limit (``ulimit -v``) less what it has mapped. Where none can be read
(not Linux) nothing is refused.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Mapping

#: The features are held as float32.
FEATURE_BYTES = 4


def features_bytes(path: Path | str, keys: Iterable[str] | None = None) -> int:
    """The bytes the ``features`` of the videos ``keys`` (every video when None) of the h5 file take in memory,
    from the shapes the file declares. Whatever cannot be looked at (a link, a missing or odd field) counts as
    nothing: the file's check (``dataset.load_h5``) names it."""
    import h5py

    total = 0
    try:
        with h5py.File(path, "r") as h5:
            for key in (list(h5.keys()) if keys is None else keys):
                try:
                    if not isinstance(h5.get(key, getlink=True), h5py.HardLink):
                        continue
                    group = h5[key]
                    if not (isinstance(group, h5py.Group)
                            and isinstance(group.get("features", getlink=True), h5py.HardLink)):
                        continue
                    features = group["features"]
                    if isinstance(features, h5py.Dataset) and features.shape:
                        total += FEATURE_BYTES * math.prod(features.shape)
                except (KeyError, ValueError, TypeError, OSError):
                    continue
    except OSError:
        pass
    return total


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def _field(path: Path, name: str) -> int | None:
    """The first number on the line of ``path`` that starts with ``name`` (``MemAvailable:``, ``inactive_file``)."""
    for line in _lines(path):
        parts = line.split()
        if len(parts) >= 2 and parts[0] == name and parts[1].isdigit():
            return int(parts[1])
    return None


def _number(path: Path) -> int | None:
    lines = _lines(path)
    return int(lines[0]) if lines and lines[0].strip().isdigit() else None


def _cgroup_available() -> int | None:
    """What this process's memory control group may still take: its limit, less what it holds that cannot be
    dropped (the inactive file cache can); None without a limit. A container may show its own group at the
    root of /sys/fs/cgroup, so both places are looked at."""
    for line in _lines(Path("/proc/self/cgroup")):
        _, controllers, where = line.split(":", 2)
        if controllers == "":                       # cgroup v2
            base, names = Path("/sys/fs/cgroup"), ("memory.max", "memory.current", "inactive_file")
        elif "memory" in controllers.split(","):    # cgroup v1
            base, names = Path("/sys/fs/cgroup/memory"), ("memory.limit_in_bytes", "memory.usage_in_bytes",
                                                           "total_inactive_file")
        else:
            continue
        for root in (base / where.lstrip("/"), base):
            limit, usage = _number(root / names[0]), _number(root / names[1])
            if limit is None or usage is None:
                continue
            if limit >= 2**60:                      # no limit (v1 says so with a page-rounded 2**63)
                break
            return max(0, limit - usage + (_field(root / "memory.stat", names[2]) or 0))
    return None


def _address_space_available() -> int | None:
    """The address-space limit (``ulimit -v``) less what the process has mapped; None without a limit."""
    try:
        import resource
    except ImportError:                             # not on a Unix
        return None
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit == resource.RLIM_INFINITY:
        return None
    return max(0, limit - (_field(Path("/proc/self/status"), "VmSize:") or 0) * 1024)


def available_memory() -> tuple[int, str] | None:
    """The bytes this process may still take and what bounds them; None where nothing says."""
    found = []
    system = _field(Path("/proc/meminfo"), "MemAvailable:")
    if system is not None:
        found.append((system * 1024, "available on this machine"))
    cgroup = _cgroup_available()
    if cgroup is not None:
        found.append((cgroup, "left under this job's memory limit (cgroup)"))
    address_space = _address_space_available()
    if address_space is not None:
        found.append((address_space, "left under the address-space limit (ulimit -v)"))
    return min(found) if found else None


def _size(count: int) -> str:
    return f"{count / 2**30:.2f} GiB" if count >= 2**30 else f"{count / 2**20:.1f} MiB"


def check_features_fit(reads: Mapping[Path, Iterable[str] | None]) -> None:
    """A ``ValueError`` naming the file and the remedy when the features of ``reads`` (h5 file -> its videos
    read, None for all) would not fit in :func:`available_memory`."""
    available = available_memory()
    if available is None:
        return
    room, bound = available
    needed = {path: features_bytes(path, keys) for path, keys in reads.items()}
    total = sum(needed.values())
    if total > room:
        largest = max(needed, key=needed.get)
        others = f" (and {_size(total - needed[largest])} in the files beside it)" if total > needed[largest] else ""
        raise ValueError(f"{largest}: its features take about {_size(needed[largest])} in memory{others}, and "
                         f"{_size(room)} are {bound}; add --streaming to read them from the file per video")
