"""The four ImageNet CNNs used as attention networks, taken from torchvision.

A CNN reads the stacked features ``(1, 3, T, D_in)`` as an image. Its layers up to the last feature map
are torchvision's own; the global pooling is replaced by adaptive average pooling to ``(T, 1)``, which
turns the map into one ``channels``-wide row per time step. The modules keep torchvision's parameter
names under the original's attribute (``googlenet``, ``resnet``, ...), so checkpoints of the original
load unchanged.
"""

from __future__ import annotations

import urllib.error
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models import WeightsEnum

from .options import CNNS, CNNInfo
from .pooling import adaptive_avg_pool2d


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one CNN and which of its layers form the attention network."""

    info: CNNInfo                       #: attribute (checkpoint prefix), map width, shortest input
    build: Callable[[], nn.Module]      #: torchvision's architecture, randomly initialised
    weights: WeightsEnum                #: the ImageNet weights the original loads
    trunk: tuple[str, ...]              #: children applied in order, up to the last feature map
    classifier: str                     #: the ImageNet head: kept for checkpoint keys, never run

    @property
    def attribute(self) -> str:
        return self.info.attribute

    @property
    def channels(self) -> int:
        return self.info.channels

    @property
    def min_rows(self) -> int:
        return self.info.min_rows


BACKBONES: dict[str, BackboneSpec] = {
    "googlenet": BackboneSpec(
        info=CNNS["googlenet"],
        build=lambda: torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False),
        weights=torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1,
        trunk=("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
               "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
               "inception5a", "inception5b"),
        classifier="fc",
    ),
    "resnet18": BackboneSpec(
        info=CNNS["resnet18"],
        build=lambda: torchvision.models.resnet18(weights=None),
        weights=torchvision.models.ResNet18_Weights.IMAGENET1K_V1,
        trunk=("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"),
        classifier="fc",
    ),
    "efficientnet_b0": BackboneSpec(
        info=CNNS["efficientnet_b0"],
        build=lambda: torchvision.models.efficientnet_b0(weights=None),
        weights=torchvision.models.EfficientNet_B0_Weights.IMAGENET1K_V1,
        trunk=("features",),
        classifier="classifier",
    ),
    "mobilenet_v2": BackboneSpec(
        info=CNNS["mobilenet_v2"],
        build=lambda: torchvision.models.mobilenet_v2(weights=None),
        weights=torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1,
        trunk=("features",),
        classifier="classifier",
    ),
}


class PretrainedWeightsUnavailable(RuntimeError):
    """torchvision's ImageNet weights are neither in the cache nor downloadable."""


def weights_file(weights: WeightsEnum) -> Path:
    """Where torchvision looks for (and caches) a weights file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name


def _what_the_file_is(path: Path) -> str:
    """What a cached weights file that does not load holds, judged by its first bytes."""
    try:
        with open(path, "rb") as file:
            start = file.read(512).lstrip().lower()
    except OSError as error:
        return f"it cannot be read: {error.strerror or error}"
    if not start:
        return "it is empty"
    if start.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        return "it is a web page, saved in its place by a download that failed"
    return "it is cut short or not a PyTorch file"


def load_imagenet_state_dict(weights: WeightsEnum) -> dict[str, torch.Tensor]:
    """torchvision's ImageNet state dict, from the cache or the internet, with a clear error offline and a
    one-line error naming a damaged file in the cache (an HTML page saved by a failed download, a cut file)."""
    path = weights_file(weights)
    cached = path.is_file()
    name = f"{type(weights).__name__}.{weights.name}"
    try:
        return weights.get_state_dict(progress=True)
    except MemoryError:
        raise
    except Exception as error:  # noqa: BLE001: a cached file that does not load, whatever torch.load raised
        if cached:
            raise PretrainedWeightsUnavailable(
                f"{path}: torch's cached copy of the ImageNet weights {name} does not load "
                f"({_what_the_file_is(path)}); delete it to download it again, or run without ImageNet weights "
                f"with --no-pretrained") from error
        if not isinstance(error, (urllib.error.URLError, OSError, RuntimeError)):
            raise
        raise PretrainedWeightsUnavailable(
            f"Could not load the ImageNet weights {name} ({error}).\n"
            f"  Download {weights.url}\n"
            f"  and place it as {path}\n"
            f"  (folder: {path.parent}; TORCH_HOME moves it), "
            f"or run without ImageNet weights with --no-pretrained."
        ) from error


class AttentionCNN(nn.Module):
    """A torchvision CNN whose output is one ``channels``-wide row per input row.

    ``forward`` maps ``(1, 3, R, W)`` to ``(R, channels)``. Inputs shorter than the CNN's downsampling
    allows (GoogLeNet: 15 rows) are padded by repeating their last row, and the padded rows' outputs
    are dropped.
    """

    def __init__(self, spec: BackboneSpec):
        super().__init__()
        self.spec = spec
        network = spec.build()
        for name, child in network.named_children():
            if child is not None and (name in spec.trunk or name == spec.classifier):
                self.add_module(name, child)

    def load_imagenet_weights(self) -> None:
        state = load_imagenet_state_dict(self.spec.weights)
        own = self.state_dict()
        state = {name: value for name, value in state.items() if name in own}
        missing = sorted(set(own) - set(state))
        if missing:
            raise PretrainedWeightsUnavailable(
                f"{weights_file(self.spec.weights)} lacks {len(missing)} entries, e.g. {missing[0]}")
        self.load_state_dict(state, strict=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.shape[2]
        padded_rows = max(rows, self.spec.min_rows)
        if padded_rows > rows:
            x = F.pad(x, (0, 0, 0, padded_rows - rows), mode="replicate")
        for name in self.spec.trunk:
            x = getattr(self, name)(x)
        x = adaptive_avg_pool2d(x, (padded_rows, 1))        # (1, C, R, 1)
        return x[0, :, :rows, 0].t()                        # (R, C)
