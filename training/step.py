"""One optimizer step as train.py takes it: a group of videos' mean loss, gradients summed over the ranks, Adam.

The benchmark (``python -m benchmarks.training_speed``) times this very step.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import numpy as np
import torch

from config import Config

from .distributed import BatchNormReplay, World


def autocast(config: Config, device: torch.device):
    """bfloat16 autocast with --amp (CUDA and CPU), fp32 otherwise."""
    if config.amp and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def video_generator(enabled: bool, seed: int, epoch: int, position: int, device: torch.device) -> Iterator[None]:
    """With per-video generators, a training forward draws its dropout from (seed, epoch, position) alone."""
    if not enabled:
        yield
        return
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        state = np.random.SeedSequence([seed, epoch, position]).generate_state(2, dtype=np.uint64)
        torch.manual_seed(int(state[0] % (2**63)))
        yield


def place_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Move the model to the device; on the CPU, keep the CNN channels-last (measured ~1.2x faster there)."""
    model.to(device)
    if device.type == "cpu":
        model.cnn.to(memory_format=torch.channels_last)
    return model


def make_optimizer(model: torch.nn.Module, config: Config) -> torch.optim.Adam:
    """The original's Adam; its fused kernel (one pass over all parameters) where this PyTorch has one."""
    options = {"lr": config.learning_rate, "weight_decay": config.weight_decay}
    try:
        return torch.optim.Adam(model.parameters(), fused=True, **options)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(model.parameters(), **options)


def group_gradients(model: torch.nn.Module, source: Sequence[tuple[torch.Tensor, torch.Tensor]], order: list[int], group: range, *, config: Config,
                    epoch: int, device: torch.device, world: World, replay: BatchNormReplay,
                    per_video_rng: bool) -> torch.Tensor:
    """Gradients of one group's mean loss (as the original accumulates it) in ``.grad``, on every rank.

    This rank trains its share of the group (positions rank, rank+size, ...); the gradients are
    summed across ranks and the BatchNorm statistics replayed in the group's order. Returns the sum
    of this rank's losses (detached).
    """
    replay.begin_group()
    losses = []
    for slot in world.shard(len(group)):
        position = group[slot]
        features, target = source[order[position]]
        replay.begin_video(position)
        with video_generator(per_video_rng, config.seed, epoch, position, device), autocast(config, device):
            scores = model(features)
        replay.end_video()
        losses.append(torch.nn.functional.mse_loss(scores.float(), target))
    if losses:
        (sum(losses[1:], losses[0]) / len(group)).backward()
    world.sum_gradients(list(model.parameters()), device)
    replay.replay(len(group), device)
    return sum((loss.detach() for loss in losses), torch.zeros((), device=device))


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               source: Sequence[tuple[torch.Tensor, torch.Tensor]], order: list[int], group: range, *,
               config: Config, epoch: int, device: torch.device, world: World, replay: BatchNormReplay,
               per_video_rng: bool) -> torch.Tensor:
    """One optimizer step on one group of videos; returns the sum of this rank's losses (detached)."""
    optimizer.zero_grad()
    losses = group_gradients(model, source, order, group, config=config, epoch=epoch, device=device, world=world,
                             replay=replay, per_video_rng=per_video_rng)
    optimizer.step()
    return losses
