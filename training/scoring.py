"""Scoring weights on videos under their dataset's protocol: one video, a list of videos (over the ranks), a split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

import dataset as eccv16
from config import Config
from evaluation.protocols import evaluate_record as evaluate_under_protocol
from model import build_model

from .data import DatasetBundle
from .distributed import World
from .step import autocast, place_model
from .videos import VideoSource


@dataclass(frozen=True)
class VideoResult:
    key: str
    metrics: dict[str, float]


def predict(model: torch.nn.Module, features: torch.Tensor, config: Config, device: torch.device) -> np.ndarray:
    """Per-step scores of one video, in eval mode, as float64 numpy."""
    with torch.inference_mode(), autocast(config, device):
        return model(features).float().cpu().numpy().astype(np.float64)


def evaluate_record(bundle: DatasetBundle, record: eccv16.VideoRecord, scores: np.ndarray) -> dict[str, float]:
    """One video's per-step scores under the dataset's protocol: its metrics and summary length."""
    return evaluate_under_protocol(bundle.protocol, record, scores, bundle.annotations_for(record.key))


def evaluate_videos(model, source: VideoSource, bundle: DatasetBundle, config: Config, device: torch.device,
                    world: World = World(), *, progress: bool = False, position: int = 0,
                    desc: str = "scoring") -> list[VideoResult]:
    """Score the videos of ``source`` (sharded over the ranks, gathered in order on every rank); ``progress``:
    a bar on rank 0 when there are many (``training.hooks.videos_bar``)."""
    from .hooks import videos_bar

    model.eval()
    mine = world.shard(len(source))
    source.announce(mine)
    local = []
    with videos_bar(len(mine), desc, progress and world.is_main, position) as bar:
        for i in mine:
            scores = _finite(predict(model, source[i][0], config, device), bundle, source.records[i])
            local.append((i, evaluate_record(bundle, source.records[i], scores)))
            bar.update(1)
    gathered = sorted(world.gather_objects(local), key=lambda item: item[0])
    return [VideoResult(source.records[i].key, metrics) for i, metrics in gathered]


def _finite(scores: np.ndarray, bundle: DatasetBundle, record: eccv16.VideoRecord) -> np.ndarray:
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{bundle.name}: video '{record.key}': the model's scores contain NaN or infinite values "
                         f"(the weights diverged or are damaged)")
    return scores


def score_records(config: Config, bundle: DatasetBundle, records: list[eccv16.VideoRecord],
                  state_dict: dict[str, torch.Tensor], *, device: torch.device, world: World = World(),
                  progress: bool = False, position: int = 0, desc: str = "scoring") -> list[VideoResult]:
    """Score videos with the given weights (the model built for ``config``, no ImageNet load)."""
    model = build_model(config, pretrained=False)
    model.load_state_dict(state_dict, strict=True)
    place_model(model, device)
    source = VideoSource(records, device, in_memory=False)
    try:
        return evaluate_videos(model, source, bundle, config, device, world, progress=progress, position=position,
                               desc=desc)
    finally:
        source.close()


def score_split(config: Config, bundle: DatasetBundle, split: int, state_dict: dict[str, torch.Tensor], *,
                device: torch.device, progress: bool = False) -> list[VideoResult]:
    """Score a split's test videos with the given weights."""
    return score_records(config, bundle, bundle.split(split).test, state_dict, device=device, progress=progress,
                         desc=f"{bundle.name} split {split}: scoring")
