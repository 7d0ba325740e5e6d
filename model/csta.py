"""The CSTA head: one implementation for every CNN and every switch of the paper's ablations.

Shapes below: ``T`` time steps, ``R`` = T+1 rows with the CLS token (T without), ``W`` = 1024 input
features, ``D`` the attention map's width (the CNN's channel count).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


from .backbones import BACKBONES, AttentionCNN
from .options import FEATURE_WIDTH, ModelOptions
from .pooling import fold_cls_row
from .positional import POSITIONAL_ENCODINGS

#: Scale option -> factor of the attention map's (rows, width) that it is divided by the square root of.
SCALE_FACTORS = {
    "D": lambda rows, width: width,
    "T": lambda rows, width: rows,
    "T_D": lambda rows, width: rows * width,
}


def balance_factors(balance: str | None, rows: int, width: int) -> tuple[float | None, float | None]:
    """Multipliers of the temporal and spatial terms (None: not multiplied), as the original weighs them."""
    to_rows, to_width = rows / width, width / rows
    shrink_larger = (None, to_width) if rows > width else (to_rows, None) if rows < width else (None, None)
    grow_smaller = (to_rows, None) if rows > width else (None, to_width) if rows < width else (None, None)
    return {
        None: (None, None),
        "T": (to_rows, None),
        "D": (None, to_width),
        "BD": shrink_larger,
        "BU": grow_smaller,
    }[balance]


class CSTA(nn.Module):
    """CNN-based spatiotemporal attention for video summarization (Son, Park, Kim, CVPR 2024).

    ``forward(features)`` takes a video's ``(T, 1024)`` GoogLeNet features (or the original's
    ``(1, 3, T, 1024)`` stack) and returns ``(T,)`` importance scores, in [0, 1] with the classifier.
    Parameter names are the original's, so its checkpoints load with ``strict=True`` and back.
    """

    def __init__(self, config: ModelOptions):
        super().__init__()
        self.config = config
        spec = BACKBONES[config.cnn]
        self.cnn_attribute = spec.attribute
        dim = self.dim = config.dim
        uses_key = config.key_value_emb in ("k", "kv")
        uses_value = config.key_value_emb in ("v", "kv") and config.attends_input
        self.add_module(spec.attribute, AttentionCNN(spec))

        if config.Positional_encoding is not None:
            self.Positional_encoding_op = POSITIONAL_ENCODINGS[config.Positional_encoding](
                config.Positional_encoding_shape, dim, config.Positional_encoding_way)
        if config.Positional_encoding_way == "Transformer":
            self.Positional_encoding_embedding = nn.Linear(dim, dim)
        if config.Dropout_on:
            self.dropout = nn.Dropout(p=float(config.Dropout_ratio))
        if config.Classifier_on:
            self.linear1 = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(p=0.5),
                                         nn.LayerNorm(dim, eps=1e-6))
            self.linear2 = nn.Sequential(nn.Linear(dim, 1), nn.Sigmoid())
            for layer in (self.linear1[0], self.linear2[0]):
                nn.init.xavier_uniform_(layer.weight, gain=np.sqrt(2.0))
                nn.init.constant_(layer.bias, 0.1)
        if config.CLS_on:
            self.CLS = nn.Parameter(torch.zeros(1, 3, 1, FEATURE_WIDTH))
        if uses_key:
            self.key_embedding = nn.Linear(FEATURE_WIDTH, dim)
        if uses_value:
            self.value_embedding = nn.Linear(FEATURE_WIDTH, dim)
        if config.Layernorm and config.Skip_connection is not None:
            norm_name = {"KC": "layernorm1", "CF": "layernorm2", "IF": "layernorm3"}[config.Skip_connection]
            self.add_module(norm_name, nn.BatchNorm2d(1))
            self.skip_norm_name = norm_name

    @property
    def cnn(self) -> AttentionCNN:
        """The attention CNN (registered under the original's name: ``googlenet``, ``resnet``, ...)."""
        return getattr(self, self.cnn_attribute)

    def _skip_norm(self, x: torch.Tensor) -> torch.Tensor:
        if not self.config.Layernorm:
            return x
        return getattr(self, self.skip_norm_name)(x[None, None])[0, 0]

    def _as_stack(self, features: torch.Tensor) -> torch.Tensor:
        if features.dim() == 2:
            if features.shape[1] != FEATURE_WIDTH:
                raise ValueError(f"expected (T, {FEATURE_WIDTH}) features, got {tuple(features.shape)}")
            return features[None, None].expand(1, 3, -1, -1)
        if features.dim() == 4 and features.shape[:2] == (1, 3) and features.shape[3] == FEATURE_WIDTH:
            return features
        raise ValueError(f"expected (T, {FEATURE_WIDTH}) or (1, 3, T, {FEATURE_WIDTH}) features, "
                         f"got {tuple(features.shape)}")

    def _embed_key(self, x: torch.Tensor) -> torch.Tensor:
        return self.key_embedding(x) if hasattr(self, "key_embedding") else x

    def _with_cls(self, rows: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.CLS.to(rows.dtype), rows), dim=2) if self.config.CLS_on else rows

    def _shared_stack_and_key(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The stack and its key for a ``(T, 1024)`` input, whose three channels are copies.

        The key embedding of the video's rows is computed once and shared by the channels; only the
        CLS rows differ per channel.
        """
        rows = features[None, None]                                       # (1, 1, T, W)
        x = self._with_cls(rows.expand(1, 3, -1, -1))
        key = self._embed_key(rows).expand(1, 3, -1, -1)
        if self.config.CLS_on:
            key = torch.cat((self._embed_key(self.CLS.to(rows.dtype)), key), dim=2)
        return x, key

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        c = self.config
        x = self._as_stack(features)
        steps = x.shape[2]
        if steps == 0:
            raise ValueError("cannot score a video of 0 steps")
        transformer_way = c.Positional_encoding_way == "Transformer"
        pgl_sum_way = c.Positional_encoding_way == "PGL_SUM"
        cls_mix = c.CLS_mix if c.CLS_on else None

        if features.dim() == 2 and not transformer_way:
            x, key = self._shared_stack_and_key(features)
        else:
            if transformer_way:
                x = self.Positional_encoding_embedding(x)
            x = self._with_cls(x)
            if transformer_way:
                if c.Positional_encoding is not None:
                    x = self.Positional_encoding_op(x)
                if c.Dropout_on:
                    x = self.dropout(x)
            key = self._embed_key(x)
        attention = self.cnn(key)                                         # (R, D)

        if c.Skip_connection == "KC":
            attention = self._skip_norm(attention + key[0, 0])
        if cls_mix == "CNN":
            attention = fold_cls_row(attention, steps, self.dim)
            x = fold_cls_row(x[0], steps, self.dim).unsqueeze(0)
        if c.Scale is not None:
            attention = attention / SCALE_FACTORS[c.Scale](*attention.shape) ** 0.5
        if pgl_sum_way and c.Positional_encoding is not None:
            attention = self.Positional_encoding_op(attention)

        x = x[0, 0]                                                       # (R, W)
        temporal = F.softmax(attention, dim=0) if c.Softmax_axis in ("T", "TD") else None
        spatial = F.softmax(attention, dim=1) if c.Softmax_axis in ("D", "TD") else None
        if cls_mix == "SM":
            temporal = None if temporal is None else fold_cls_row(temporal, steps, self.dim)
            spatial = None if spatial is None else fold_cls_row(spatial, steps, self.dim)
        if c.Dropout_on and pgl_sum_way:
            temporal = None if temporal is None else self.dropout(temporal)
            spatial = None if spatial is None else self.dropout(spatial)

        if not c.attends_input:
            value = attention
        elif hasattr(self, "value_embedding"):
            value = self.value_embedding(x)
        else:
            value = x
        if cls_mix == "SM":
            value = fold_cls_row(value, steps, self.dim)

        out = self._attend(value, attention, temporal, spatial)

        if c.Skip_connection == "CF":
            if out.shape != attention.shape:
                attention = fold_cls_row(attention, steps, self.dim)
            out = self._skip_norm(out + attention)
        if c.Skip_connection == "IF":
            out = self._skip_norm(out + x)
        if cls_mix == "Final":
            out = fold_cls_row(out, steps, self.dim)

        if c.Classifier_on:
            return self.linear2(self.linear1(out)).squeeze(-1)
        return F.adaptive_avg_pool1d(out, 1).squeeze(-1)

    def _attend(self, value: torch.Tensor, attention: torch.Tensor, temporal: torch.Tensor | None,
                spatial: torch.Tensor | None) -> torch.Tensor:
        """Weight the value by the softmax outputs (or by the raw map when there is no softmax)."""
        if temporal is None and spatial is None:
            return value * attention
        if spatial is None:
            return value * temporal
        if temporal is None:
            return value * spatial
        temporal_factor, spatial_factor = balance_factors(self.config.Balance, *value.shape)
        temporal_term = value * temporal
        spatial_term = value * spatial
        if temporal_factor is not None:
            temporal_term = temporal_term * temporal_factor
        if spatial_factor is not None:
            spatial_term = spatial_term * spatial_factor
        return temporal_term + spatial_term


def count_parameters(model: CSTA) -> int:
    """Trainable parameters as the paper counts them: everything but the CNN's ImageNet classifier."""
    head = f"{model.cnn_attribute}.{model.cnn.spec.classifier}."
    return sum(p.numel() for name, p in model.named_parameters() if p.requires_grad and not name.startswith(head))


def describe_parameters(model: CSTA) -> str:
    """The original's print-out, ``PARAMS: x.xxM`` (millions of 2**20), with the exact count."""
    count = count_parameters(model)
    return f"PARAMS: {count / (1024 * 1024):.2f}M ({count:,} parameters, CNN classifier excluded)"


def build_model(config: ModelOptions | None = None, pretrained: bool | None = None) -> CSTA:
    """CSTA for ``config`` (its switches; default: the paper's); ``pretrained`` loads torchvision's ImageNet CNN weights.

    ``pretrained`` defaults to ``config.pretrained`` where the options have one (a run's ``Config``),
    else True, as the original. Offline without the weights in torch's cache, this raises
    :class:`model.PretrainedWeightsUnavailable` saying which file to put where.
    """
    config = config or ModelOptions()
    model = CSTA(config)
    if getattr(config, "pretrained", True) if pretrained is None else pretrained:
        model.cnn.load_imagenet_weights()
    return model

