"""Stochastic depth: drop a whole residual branch per sample."""

from typing import List, Optional

import torch
from torch import nn

from unival.models.layers.packed_rows import PackedRows


def drop_path_rates(max_rate: float, num_layers: int) -> List[float]:
    """Per-layer rates rising linearly from 0 to ``max_rate`` (``linspace``)."""
    return [float(r) for r in torch.linspace(0, max_rate, num_layers)]


class DropPath(nn.Module):
    """Zero a residual branch for a random subset of samples in training.

    Input (T, B, C) (batch on dim 1, fairseq layout), or (N, C) rows of ``packed``; kept
    samples are scaled by ``1 / (1 - p)``. Identity in eval mode or when ``p == 0``. Both
    layouts draw the same (1, B, 1) mask, so a seed drops the same samples in either.
    """

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = float(drop_prob)

    def forward(self, x: torch.Tensor, packed: Optional[PackedRows] = None) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        batch = packed.batch if packed is not None else x.size(1)
        mask = x.new_empty(1, batch, 1).bernoulli_(keep)
        if packed is not None:
            mask = mask.view(batch).index_select(0, packed.batch_ids).unsqueeze(1)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.drop_prob}"
