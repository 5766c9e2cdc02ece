"""Relative-position bucket tables and patch grid position ids (as OFA computes them).

All tables are deterministic int64 index tensors; the model stores them as buffers
(``token_rp_bucket`` (P, P), ``image_rp_bucket`` (G²+1, G²+1)) so that they appear in the
state dict under their official names.
"""

import functools
import math

import torch

#: Number of extra slots in the image relative-position table for the unused "cls" id 0.
NUM_IMAGE_CLS_SLOTS = 3


def token_bucket_count(bucket_size: int) -> int:
    """Rows of a per-layer text relative-position table: ``2 * bucket_size - 1``."""
    return 2 * bucket_size - 1


def image_bucket_count(grid_size: int) -> int:
    """Rows of a per-layer patch relative-position table: ``(2G - 1)² + 3``."""
    return (2 * grid_size - 1) ** 2 + NUM_IMAGE_CLS_SLOTS


def make_token_bucket_position(bucket_size: int, max_position: int = 1024) -> torch.Tensor:
    """See :func:`_token_bucket_table` (a fresh copy of a cached table)."""
    return _token_bucket_table(bucket_size, max_position).clone()


def make_image_bucket_position(grid_size: int) -> torch.Tensor:
    """See :func:`_image_bucket_table` (a fresh copy of a cached table)."""
    return _image_bucket_table(grid_size).clone()


@functools.lru_cache(maxsize=4)
def _token_bucket_table(bucket_size: int, max_position: int) -> torch.Tensor:
    """Bucket of every relative distance ``i - j`` for ``i, j < max_position``.

    Distances with ``|r| <= bucket_size // 2`` keep their own bucket; longer ones share
    log-spaced buckets. The result is shifted by ``bucket_size - 1`` into
    ``0 .. 2 * bucket_size - 2``. Returns an int64 tensor (max_position, max_position).
    """
    half = bucket_size // 2
    positions = torch.arange(max_position, dtype=torch.long)
    rel = positions[:, None] - positions[None, :]
    magnitude = rel.abs()
    # Short distances are replaced by a harmless value before the log: their bucket is rel.
    safe = torch.where(magnitude > half, magnitude, torch.full_like(magnitude, half))
    # float32 arithmetic, as the reference tables were made with it (matters at ceil edges).
    scaled = torch.log(safe.float() / half) / math.log((max_position - 1) / half) * (half - 1)
    far_bucket = (torch.ceil(scaled) + half).long() * torch.sign(rel)
    bucket = torch.where(magnitude <= half, rel, far_bucket)
    return bucket + bucket_size - 1


@functools.lru_cache(maxsize=4)
def _image_bucket_table(grid_size: int) -> torch.Tensor:
    """Bucket of every (query id, key id) pair of the ``grid_size²`` patch grid.

    Id ``k >= 1`` is the cell ``(row, col) = divmod(k - 1, grid_size)``; the bucket of
    two cells is ``(dr + G - 1) * (2G - 1) + (dc + G - 1)``. Id 0 is a reserved "cls" id:
    row 0 -> ``n - 3``, column 0 -> ``n - 2``, ``[0, 0]`` -> ``n - 1`` with
    ``n = image_bucket_count(G)``. Returns int64 (G² + 1, G² + 1).
    """
    cells = torch.arange(grid_size * grid_size)
    rows, cols = cells // grid_size, cells % grid_size
    d_row = rows[:, None] - rows[None, :] + grid_size - 1
    d_col = cols[:, None] - cols[None, :] + grid_size - 1
    count = image_bucket_count(grid_size)
    table = torch.empty(grid_size * grid_size + 1, grid_size * grid_size + 1, dtype=torch.long)
    table[1:, 1:] = d_row * (2 * grid_size - 1) + d_col
    table[0, :] = count - 3
    table[:, 0] = count - 2
    table[0, 0] = count - 1
    return table


def grid_position_ids(height: int, width: int, grid_size: int) -> torch.Tensor:
    """Ids of an ``height x width`` grid laid out row-major on the ``grid_size`` grid.

    Cell (r, c) gets ``r * grid_size + c + 1``. Returns int64 (height * width,).
    """
    rows = torch.arange(height)[:, None] * grid_size
    cols = torch.arange(width)[None, :]
    return (rows + cols + 1).reshape(-1)


def code_position_ids(code_image_size: int, grid_size: int, num_filler: int = 769) -> torch.Tensor:
    """Decoder ``image_position_idx`` buffer for image-code targets (text-to-image).

    ``[0]`` + the ids of a ``(code_image_size // 8)²`` grid + ``num_filler`` filler ids 1024
    (length 1 + 256 + 769 = 1026 for the default size 128). Returns int64.
    """
    window = code_image_size // 8
    ids = grid_position_ids(window, window, grid_size)
    zero = torch.zeros(1, dtype=torch.long)
    return torch.cat([zero, ids, torch.full((num_filler,), 1024, dtype=torch.long)])
