"""Data-parallel training with torch.distributed: the process group, the group split, gradients, statistics.

``torchrun --nproc_per_node N train.py ...`` starts N ranks; :func:`World.from_environment` joins
them (NCCL on CUDA, gloo on the CPU). A single process is a world of one and runs the same code.

CSTA trains on groups of videos (one video per step by default, or a ``batch_size`` fraction):
the loss of a group is the mean of its videos' losses. With N ranks, rank r trains the videos at
positions r, r+N, ... of each group, scales its losses by 1/group, and the gradients are summed
across ranks, which gives the gradient of the group's mean loss; every rank then takes the same
optimizer step. BatchNorm running statistics, which each forward updates in turn, are rebuilt
after each group by replaying every video's batch statistics in the group's order on every rank,
so the model after a step is the one a single process computes (to float rounding). Evaluation is
sharded the same way and gathered. Rank 0 alone writes files.
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
import torch.distributed as dist
from torch import nn


class PeerTimeout(RuntimeError):
    """A collective that did not complete in time; names the ranks that did not answer."""


@dataclass
class World:
    """This process's place among the ranks of a run."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None
    initialised_here: bool = field(default=False, repr=False)
    timeout_seconds: float = 1800.0
    monitor: Any = field(default=None, repr=False)      #: a gloo group that finds the ranks that stopped answering

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @classmethod
    def from_environment(cls, device_name: str = "auto", timeout_seconds: float = 600.0) -> "World":
        """The world torchrun describes (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``); a world of one otherwise.

        ``timeout_seconds``: how long a collective waits for every rank before it fails (PeerTimeout).
        """
        size = int(os.environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return cls()
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = device_name != "cpu" and torch.cuda.is_available()
        backend = "nccl" if use_cuda else "gloo"
        if use_cuda:
            torch.cuda.set_device(local_rank)
        initialised_here = False
        timeout = datetime.timedelta(seconds=timeout_seconds)
        if not dist.is_initialized():
            dist.init_process_group(backend, timeout=timeout)
            initialised_here = True
        return cls(rank=rank, size=size, local_rank=local_rank, backend=backend, initialised_here=initialised_here,
                   timeout_seconds=timeout_seconds, monitor=dist.new_group(backend="gloo", timeout=timeout))

    def device_name(self, configured: str) -> str:
        """Each rank on its own GPU (``cuda:LOCAL_RANK``) when CUDA is used; the configured device otherwise."""
        if self.distributed and self.backend == "nccl" and configured in ("auto", "cuda"):
            return f"cuda:{self.local_rank}"
        return configured

    def close(self) -> None:
        if self.initialised_here and dist.is_initialized():
            dist.destroy_process_group()

    # ------------------------------------------------------------------ collectives
    def shard(self, count: int) -> list[int]:
        """The positions ``0..count-1`` this rank handles: rank, rank+size, ..."""
        return list(range(self.rank, count, self.size))

    def sum_gradients(self, parameters: Sequence[nn.Parameter], device: torch.device) -> None:
        """Sum every parameter's gradient over the ranks, in one flat buffer (missing gradients count as 0).

        A parameter that no rank gave a gradient keeps ``grad = None``, as in a single process.
        """
        if not self.distributed:
            return
        sizes = [p.numel() for p in parameters]
        total = sum(sizes)
        flat = torch.zeros(total + len(parameters), device=device)     # gradients, then one "has a gradient" flag each
        offset = 0
        for index, (parameter, size) in enumerate(zip(parameters, sizes)):
            if parameter.grad is not None:
                flat[offset: offset + size] = parameter.grad.reshape(-1)
                flat[total + index] = 1.0
            offset += size
        self.collective("the gradient sum", dist.all_reduce, flat)
        has_gradient = (flat[total:] > 0).tolist()
        offset = 0
        for index, (parameter, size) in enumerate(zip(parameters, sizes)):
            if has_gradient[index]:
                parameter.grad = flat[offset: offset + size].view_as(parameter).clone()
            else:
                parameter.grad = None
            offset += size

    def gather_objects(self, local: list[Any]) -> list[Any]:
        """Every rank's list, concatenated in rank order (on every rank)."""
        if not self.distributed:
            return list(local)
        gathered: list[list[Any]] = [None] * self.size           # type: ignore[list-item]
        self.collective("gathering results", dist.all_gather_object, gathered, local)
        return [item for part in gathered for item in part]

    def barrier(self) -> None:
        if self.distributed:
            self.collective("a barrier", dist.barrier)

    def collective(self, what: str, operation, *args):
        """Run a collective; when it fails (a rank stopped or died), raise PeerTimeout naming the silent ranks."""
        try:
            return operation(*args)
        except (RuntimeError, dist.DistError):
            silent = self.silent_ranks()
            who = f"rank(s) {', '.join(map(str, silent))}" if silent else "another rank"
            raise PeerTimeout(f"rank {self.rank}: {what} failed: no answer from {who} within "
                              f"{self.timeout_seconds:g} s (stopped, killed or far slower); the finished epochs "
                              f"are kept for --resume; --collective-timeout sets the wait") from None

    def silent_ranks(self) -> list[int]:
        """The ranks that do not reach a monitored barrier on the gloo side group (empty when unknown)."""
        if self.monitor is None:
            return []
        wait = datetime.timedelta(seconds=max(1.0, min(30.0, self.timeout_seconds)))
        try:
            dist.monitored_barrier(group=self.monitor, timeout=wait, wait_all_ranks=True)
        except RuntimeError as error:
            text = str(error)
            found = re.search(r"[Rr]anks? ([\d, ]+) failed to pass", text)
            if found:
                return sorted({int(rank) for rank in re.findall(r"\d+", found.group(1))})
            if self.rank != 0:
                return [0]
        return []


class BatchNormReplay:
    """Rebuild BatchNorm running statistics after a group trained across ranks, in the group's order.

    Each training forward records, per BatchNorm layer, the batch mean and unbiased variance it
    saw; :meth:`replay` gathers those of the whole group and applies the momentum updates in
    order, starting from the statistics the group began with.
    """

    def __init__(self, model: nn.Module, world: World):
        self.world = world
        self.layers = [m for m in model.modules()
                       if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
        self.records: list[tuple[int, list[tuple[torch.Tensor, torch.Tensor]]]] = []
        self._current: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        self._start: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._hooks = [layer.register_forward_pre_hook(self._record) for layer in self.layers] \
            if world.distributed else []

    def _record(self, layer: nn.Module, inputs) -> None:
        if self._current is None or not layer.training:
            return
        x = inputs[0].detach().float()
        dims = [d for d in range(x.dim()) if d != 1]
        self._current.append((x.mean(dim=dims), x.var(dim=dims, unbiased=True)))

    def begin_group(self) -> None:
        if not self.world.distributed:
            return
        self.records = []
        self._start = [(l.running_mean.clone(), l.running_var.clone(), l.num_batches_tracked.clone())
                       for l in self.layers]

    def begin_video(self, position: int) -> None:
        if self.world.distributed:
            self._current = []
            self.records.append((position, self._current))

    def end_video(self) -> None:
        self._current = None

    def replay(self, group_size: int, device: torch.device) -> None:
        if not self.world.distributed or not self.layers:
            return
        widths = [l.num_features for l in self.layers]
        row = 1 + 2 * sum(widths)
        slots = -(-group_size // self.world.size)
        local = torch.full((slots, row), -1.0, device=device)
        for slot, (position, stats) in enumerate(self.records):
            local[slot, 0] = position
            local[slot, 1:] = torch.cat([torch.cat((m, v)) for m, v in stats])
        parts = [torch.empty_like(local) for _ in range(self.world.size)]
        self.world.collective("the BatchNorm statistics", dist.all_gather, parts, local)
        rows = torch.cat(parts)
        rows = rows[rows[:, 0] >= 0]
        rows = rows[torch.argsort(rows[:, 0])]
        with torch.no_grad():
            for layer, (mean, var, count) in zip(self.layers, self._start):
                layer.running_mean.copy_(mean)
                layer.running_var.copy_(var)
                layer.num_batches_tracked.copy_(count)
            for values in rows[:, 1:]:
                offset = 0
                for layer, width in zip(self.layers, widths):
                    batch_mean = values[offset: offset + width]
                    batch_var = values[offset + width: offset + 2 * width]
                    offset += 2 * width
                    momentum = layer.momentum
                    layer.num_batches_tracked.add_(1)
                    if momentum is None:
                        momentum = 1.0 / float(layer.num_batches_tracked)
                    layer.running_mean.mul_(1 - momentum).add_(batch_mean.to(layer.running_mean.dtype), alpha=momentum)
                    layer.running_var.mul_(1 - momentum).add_(batch_var.to(layer.running_var.dtype), alpha=momentum)

    def close(self) -> None:
        for hook in self._hooks:
            hook.remove()
