"""The videos a split trains and scores on, on the device: held in memory, or streamed from their h5 file."""

from __future__ import annotations

import collections
from typing import Any

import torch

import dataset as eccv16


def return_large_buffers_to_the_system() -> None:
    """Have glibc map every buffer of 1 MiB or more on its own and unmap it when freed (``mallopt``).

    Videos of different lengths otherwise leave the heap fragmented, and the resident memory of a long
    streamed run on the CPU grows well past what one step needs (measured on a 0.25 GB file: 1.88 GiB
    by default, 1.54 GiB with this), at some cost in speed on the CPU (18 s against 24 s for that
    epoch). With CUDA the activations are on the device and this changes little.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)        # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


class VideoSource:
    """Features and targets of a list of videos on the device: all held there, or read from disk per use.

    Held in memory (SumMe, TVSum): moved to the device once per split. Streamed (``--streaming``):
    each video is read from its h5 file when needed, with the next few of a announced order read
    ahead by a background thread while the model trains, so memory holds a handful of videos.
    """

    def __init__(self, records: list[eccv16.VideoRecord], device: torch.device, in_memory: bool,
                 read_ahead: int = 4):
        self.records = records
        self.device = device
        self.cached = [self._load(r) for r in records] if in_memory else None
        self.read_ahead = read_ahead
        self._pending: collections.deque[int] = collections.deque()
        self._futures: dict[int, Any] = {}
        self._pool = None

    def _load(self, record: eccv16.VideoRecord) -> tuple[torch.Tensor, torch.Tensor]:
        features = torch.as_tensor(eccv16.read_features(record), dtype=torch.float32)
        target = torch.as_tensor(record.gtscore, dtype=torch.float32)
        return features.to(self.device, non_blocking=True), target.to(self.device, non_blocking=True)

    def announce(self, indices: list[int]) -> None:
        """The order the videos will be asked for: streamed videos are read ahead in it."""
        if self.cached is not None:
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")
        self._futures.clear()
        self._pending = collections.deque(indices)
        self._top_up()

    def _top_up(self) -> None:
        while self._pending and len(self._futures) < self.read_ahead:
            index = self._pending.popleft()
            if index not in self._futures:
                self._futures[index] = self._pool.submit(self._load, self.records[index])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cached is not None:
            return self.cached[index]
        future = self._futures.pop(index, None)
        item = future.result() if future is not None else self._load(self.records[index])
        self._top_up()
        return item

    def __len__(self) -> int:
        return len(self.records)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
