"""Training on the real positions only (fast path): a padded batch's rows, packed.

In a training batch many positions are padding (in ``make demo``'s pretraining batches two
thirds of the decoder's and a fifth of the encoder's). A padded position never reaches a
real one: it is masked as a key, and the causal mask keeps the decoder's real positions
before its pads. So the position-wise work (layer norms, projections, FFN, residuals) can
run on the N real positions alone, (N, C), and only the attention core sees the padded
(B, H, T, d) layout. The real positions' values and every gradient are those of the padded
computation (to float rounding); the padded positions come back as zeros.

Rows are taken batch-major: packed row i is position ``index[i] % T`` of sample
``index[i] // T``.
"""

from dataclasses import dataclass
from functools import cached_property
from typing import List

import torch
from torch import Tensor


@dataclass
class PackedRows:
    """Where the N real positions of a (B, T) padded batch are."""

    index: Tensor  # (N,) long: b * T + t of each real position, increasing
    batch: int  # B
    length: int  # T

    @classmethod
    def from_padding(cls, padding_mask: Tensor) -> "PackedRows":
        """``padding_mask`` (B, T) bool, True = pad."""
        batch, length = padding_mask.shape
        index = (~padding_mask).reshape(-1).nonzero().squeeze(1)
        return cls(index, batch, length)

    @cached_property
    def batch_ids(self) -> Tensor:
        """(N,) sample of each packed row (computed once: every residual's drop-path reads it)."""
        return torch.div(self.index, self.length, rounding_mode="floor")

    def pack(self, x: Tensor) -> Tensor:
        """(B, T, C) -> (N, C)."""
        return x.reshape(self.batch * self.length, -1).index_select(0, self.index)

    def unpack(self, x: Tensor) -> Tensor:
        """(N, C) -> (B, T, C), zeros at the pads."""
        full = x.new_zeros(self.batch * self.length, x.size(1)).index_copy(0, self.index, x)
        return full.view(self.batch, self.length, -1)

    def to_heads(self, x: Tensor, heads: int, parts: int = 1) -> List[Tensor]:
        """(N, parts * C), ``parts`` projections side by side -> ``parts`` (B, H, T, C / H)."""
        full = self.unpack(x).view(self.batch, self.length, parts, heads, -1)
        return list(full.permute(2, 0, 3, 1, 4).unbind(0))

    def from_heads(self, x: Tensor) -> Tensor:
        """(B, H, T, d) -> (N, H * d)."""
        flat = x.transpose(1, 2).reshape(self.batch * self.length, -1)
        return flat.index_select(0, self.index)
