"""The four positional encodings of the paper's ablation: fixed, relative, learnable and conditional.

Each module adds an encoding to ``x`` for the first ``x.shape[0]`` positions, as the original does. On the
attention map (the PGL-SUM way) that is one row per time step. On the stacked input (the Transformer way,
shape ``(1, 3, T, D)``) ``x.shape[0]`` is 1, so the original adds the first position's encoding to every
step; this is reproduced as is, so that its checkpoints score the same.
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: Rows of the original's fixed and learnable tables; saved checkpoints hold tables of this size.
TABLE_ROWS = 5000


def sinusoid_table(rows: int, dim: int, shape: str, freq: float = 10000.0) -> torch.Tensor:
    """The fixed sinusoidal table: sin on even columns, cos on odd ones (TD); one column repeated (T)."""
    position = torch.arange(rows).unsqueeze(1)
    width = dim if shape == "TD" else 1
    div_term = torch.exp(torch.arange(0, width, 2) * (-math.log(freq) / width))
    table = torch.zeros(rows, width)
    table[:, 0::2] = torch.sin(position * div_term)
    table[:, 1::2] = torch.cos(position * div_term)[:, : table[:, 1::2].shape[1]]
    return table if shape == "TD" else table.repeat_interleave(dim, dim=1)


class FixedPositionalEncoding(nn.Module):
    """Sinusoidal encoding. The saved table has 5,000 rows; longer inputs get the same formula's next rows."""

    def __init__(self, shape: str, dim: int, max_len: int = TABLE_ROWS):
        super().__init__()
        self.shape, self.dim = shape, dim
        self.register_buffer("pe", sinusoid_table(max_len, dim, shape))
        self._extended: torch.Tensor | None = None

    def rows(self, n: int) -> torch.Tensor:
        if n <= self.pe.shape[0]:
            return self.pe[:n]
        extended = self._extended
        if extended is None or extended.shape[0] < n or extended.device != self.pe.device:
            extended = sinusoid_table(n, self.dim, self.shape).to(device=self.pe.device, dtype=self.pe.dtype)
            self._extended = extended
        return extended[:n]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.rows(x.shape[0])


class LearnablePositionalEncoding(nn.Module):
    """A learned table of 5,000 rows; positions beyond it reuse the last learned row."""

    def __init__(self, shape: str | None, dim: int, max_len: int = TABLE_ROWS):
        super().__init__()
        if shape is not None:           # without a shape the original builds no table (and never adds one)
            self.pe = nn.Parameter(torch.randn(max_len, dim if shape == "TD" else 1))

    def rows(self, n: int) -> torch.Tensor:
        if n <= self.pe.shape[0]:
            return self.pe[:n]
        overflow = self.pe[-1:].expand(n - self.pe.shape[0], -1)
        return torch.cat([self.pe, overflow], dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.rows(x.shape[0])


def relative_table(n: int, dim: int, shape: str, freq: float = 10000.0) -> torch.Tensor:
    """Relative encoding of n positions: sin on even rows, cos on odd rows; the last row of an odd n is 0."""
    width = dim if shape == "TD" else 1
    i = torch.arange(n).unsqueeze(1).expand(n, width)
    j = torch.arange(width).unsqueeze(0).expand(n, width)
    relative = j - i + (n - 1)
    angle = relative / freq ** ((i + j) / (n + width))
    even = (torch.arange(n) % 2 == 0).unsqueeze(1)
    table = torch.where(even, torch.sin(angle), torch.cos(angle))
    if n % 2:
        table[-1] = 0
    return table if shape == "TD" else table.repeat_interleave(dim, dim=1)


class RelativePositionalEncoding(nn.Module):
    """Computed for each input length; it has no state."""

    def __init__(self, shape: str, dim: int):
        super().__init__()
        self.shape, self.dim = shape, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + relative_table(x.shape[0], self.dim, self.shape).to(device=x.device, dtype=x.dtype)


class ConditionalPositionalEncoding(nn.Module):
    """A 1-D convolution over time (full for TD, depthwise for T) whose output is added to its input."""

    def __init__(self, shape: str, dim: int, way: str | None, kernel_size: int = 3):
        super().__init__()
        self.way = way
        groups = 1 if shape == "TD" else dim
        self.pe = nn.Conv1d(dim, dim, kernel_size=kernel_size, stride=1, padding=kernel_size // 2, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.way == "Transformer":                       # x: (1, C, T, D); convolve each channel over T
            return x + self.pe(x[0].transpose(1, 2)).transpose(1, 2).unsqueeze(0)
        return x + self.pe(x.t().unsqueeze(0)).squeeze(0).t()   # x: (T, D)


POSITIONAL_ENCODINGS = {
    "FPE": lambda shape, dim, way: FixedPositionalEncoding(shape, dim),
    "LPE": lambda shape, dim, way: LearnablePositionalEncoding(shape, dim),
    "RPE": lambda shape, dim, way: RelativePositionalEncoding(shape, dim),
    "CPE": lambda shape, dim, way: ConditionalPositionalEncoding(shape, dim, way),
}
