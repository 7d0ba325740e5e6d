"""GoogLeNet pool5 features of video frames, as CSTA's datasets and its video tool compute them.

torchvision's GoogLeNet with its ImageNet weights (``GoogLeNet_Weights.IMAGENET1K_V1``) and their
preprocessing (resize 256, centre crop 224, ImageNet normalisation), cut after the global average
pool: 1024 values per frame, then L2-normalised (``f / (‖f‖ + 1e-10)``).  Like the original, the
network's modules are run in sequence, so torchvision's optional input re-scaling is not applied.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.models import GoogLeNet

from model.backbones import BACKBONES, PretrainedWeightsUnavailable, load_imagenet_state_dict, weights_file

__all__ = ["FEATURE_SIZE", "GoogLeNetFeatures", "PretrainedWeightsUnavailable", "weights_file"]

FEATURE_SIZE = 1024
_GOOGLENET = BACKBONES["googlenet"]
"""The attention network's GoogLeNet: the same ImageNet weights and layers, plus the global average pool."""
WEIGHTS = _GOOGLENET.weights
_RANDOM_SEED = 0


class GoogLeNetFeatures:
    """Callable turning RGB images into an (N, 1024) float32 array of unit-norm features.

    ``pretrained=False`` uses a randomly initialised network (fixed seed): the features are then
    meaningless for summarisation and serve only to test the pipeline offline.  Without the ImageNet
    weights in torch's cache and no internet, ``pretrained=True`` raises
    :class:`PretrainedWeightsUnavailable` saying which file to place where.
    """

    def __init__(self, device: str | torch.device = "cpu", pretrained: bool = True, batch_size: int = 32):
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.pretrained = pretrained
        self.preprocess = WEIGHTS.transforms()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_RANDOM_SEED)
            network = GoogLeNet(aux_logits=False, transform_input=False, init_weights=False)
            if not pretrained:
                _keep_activation_scale(network)
        if pretrained:
            state = load_imagenet_state_dict(WEIGHTS)
            network.load_state_dict({k: v for k, v in state.items() if not k.startswith(("aux1.", "aux2."))})
        trunk = [getattr(network, name) for name in (*_GOOGLENET.trunk, "avgpool")]
        self.network = nn.Sequential(*trunk).to(self.device, memory_format=torch.channels_last).eval()
        self._mean = torch.tensor(self.preprocess.mean, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(self.preprocess.std, device=self.device).view(1, 3, 1, 1)

    def preprocess_images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """The weights' transforms applied to each image: a (N, 3, 224, 224) float tensor."""
        return torch.stack([self.preprocess(image) for image in images])

    @torch.inference_mode()
    def embed(self, batch: torch.Tensor) -> np.ndarray:
        """Features of a preprocessed batch, in chunks of ``batch_size``."""
        outputs = []
        for first in range(0, len(batch), self.batch_size):
            pooled = self.network(batch[first:first + self.batch_size].to(self.device)).flatten(1)
            pooled = pooled / (torch.linalg.vector_norm(pooled, dim=1, keepdim=True) + 1e-10)
            outputs.append(pooled.float().cpu().numpy())
        return np.concatenate(outputs) if outputs else np.zeros((0, FEATURE_SIZE), dtype=np.float32)

    def __call__(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.embed(self.preprocess_images(images))

    def embed_arrays(self, pictures: np.ndarray) -> np.ndarray:
        """Features of (N, 224, 224, 3) uint8 pictures already resized and cropped (the pipeline's fast path):
        the weights' normalisation, then the network in channels-last layout."""
        batch = torch.from_numpy(np.ascontiguousarray(pictures)).to(self.device).permute(0, 3, 1, 2)
        batch = (batch.float().div_(255) - self._mean) / self._std
        return self.embed(batch.contiguous(memory_format=torch.channels_last))


def _keep_activation_scale(network: nn.Module) -> None:
    """He initialisation of the convolutions, so that random features keep their scale through the
    network (torchvision's initialisation shrinks them layer after layer to about the size of the
    normalisation's 1e-10 guard, which makes every frame look alike)."""
    for module in network.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
