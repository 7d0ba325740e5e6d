"""Adaptive average pooling with a deterministic backward pass.

CSTA resizes maps with adaptive average pooling twice: the CNN's last feature map to one row per time
step, and the (T+1)-row maps back to T rows when the CLS token is folded in. PyTorch's CUDA backward of
that pooling accumulates with atomics, so two runs with one seed can differ. Here the forward is
PyTorch's own (identical values) and, when deterministic algorithms are requested, the backward is the
exact transpose of the pooling written as two small dense matrices.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F


@functools.lru_cache(maxsize=256)
def _pooling_matrix_cpu(in_size: int, out_size: int) -> torch.Tensor:
    """(out_size, in_size) matrix whose rows average the input bins adaptive pooling uses."""
    matrix = torch.zeros(out_size, in_size, dtype=torch.float64)
    for i in range(out_size):
        start = (i * in_size) // out_size
        end = -((-(i + 1) * in_size) // out_size)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def pooling_matrix(in_size: int, out_size: int, *, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return _pooling_matrix_cpu(in_size, out_size).to(device=device, dtype=dtype)


class _DeterministicAdaptiveAvgPool2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
        ctx.in_shape = x.shape
        return F.adaptive_avg_pool2d(x, (rows, cols))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        in_rows, in_cols = ctx.in_shape[-2:]
        out_rows, out_cols = grad.shape[-2:]
        row_matrix = pooling_matrix(in_rows, out_rows, dtype=grad.dtype, device=grad.device)
        col_matrix = pooling_matrix(in_cols, out_cols, dtype=grad.dtype, device=grad.device)
        grad_in = row_matrix.t() @ grad @ col_matrix
        return grad_in, None, None


def adaptive_avg_pool2d(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``F.adaptive_avg_pool2d`` whose gradient is deterministic when deterministic algorithms are on."""
    rows, cols = size
    if torch.are_deterministic_algorithms_enabled() and x.requires_grad and x.is_cuda:
        return _DeterministicAdaptiveAvgPool2d.apply(x, rows, cols)
    return F.adaptive_avg_pool2d(x, (rows, cols))


def fold_cls_row(x: torch.Tensor, rows: int, width: int) -> torch.Tensor:
    """Pool a ``(..., rows + 1, W)`` map to ``(..., rows, width)``, as the original folds the CLS row back."""
    if x.dim() == 2:
        return adaptive_avg_pool2d(x.unsqueeze(0), (rows, width)).squeeze(0)
    return adaptive_avg_pool2d(x, (rows, width))
