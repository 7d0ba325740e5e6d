"""The original's random stream: how a split's model is built after seeding and how each epoch's order is drawn.

What a seed means (as in the original ``train.py``, on the CPU): the global generator is seeded, a
throwaway model is built (the original's parameter report), then the split's model; each epoch the
training order comes from the draws the original's ``DataLoader(shuffle=True)`` makes (its base
seed, then its sampler's seed for ``randperm``), the training forwards draw their dropout masks from
the same generator, and the test loader draws its base seed.
"""

from __future__ import annotations

import torch

from config import Config
from model import build_model

from .reproducibility import seed_everything


def fresh_model(config: Config) -> torch.nn.Module:
    """The split's model, built as the original builds it after seeding (a throwaway model first)."""
    build_model(config, pretrained=False)
    return build_model(config)


def initial_state(config: Config, dataset_name: str | None = None, split: int | None = None) -> dict[str, torch.Tensor]:
    """The weights a split starts from, on the CPU, with ``config.pretrained`` as configured.

    Every split of every dataset starts from the seed, so the result depends on ``config`` alone;
    the global random state of the caller is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        seed_everything(config.seed)
        return cpu_state(fresh_model(config))


def epoch_order(count: int) -> list[int]:
    """The training order of one epoch, drawn as the original's ``DataLoader(shuffle=True)`` draws it."""
    torch.empty((), dtype=torch.int64).random_()                            # the loader's base seed
    sampler_seed = int(torch.empty((), dtype=torch.int64).random_().item())
    return torch.randperm(count, generator=torch.Generator().manual_seed(sampler_seed)).tolist()


def after_evaluation_draw() -> None:
    """The base seed the original's test DataLoader draws when it is iterated."""
    torch.empty((), dtype=torch.int64).random_()


def cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the model's state dict on the CPU."""
    return {name: t.detach().to("cpu", copy=True) for name, t in model.state_dict().items()}
