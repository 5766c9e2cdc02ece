"""Row maps for caches that beam search would otherwise copy (fast path).

During beam search every hypothesis of a sentence attends to the same encoder output, so
the cross-attention keys/values and the cross position-bias keys are stored once per
*sentence* (U rows) together with ``rows`` (N,): the cache row of each of the N
hypotheses. Reordering the beams then only reorders ``rows``; the big tensors are never
copied (they shrink once when whole sentences finish).
"""

from typing import Optional, Tuple

import torch
from torch import Tensor


def unique_rows(row_source: Tensor) -> Tuple[Tensor, Tensor]:
    """(N,) source-row ids -> (first (U,) one row index per distinct id, rows (N,) in 0..U-1)."""
    _, rows = torch.unique(row_source, sorted=True, return_inverse=True)
    count = int(rows.max()) + 1 if rows.numel() else 0
    positions = torch.arange(rows.numel(), device=rows.device)
    first = torch.full((count,), rows.numel(), dtype=torch.long, device=rows.device)
    first = first.scatter_reduce(0, rows, positions, reduce="amin")
    return first, rows


def reorder_rows(
    rows: Tensor, new_order: Tensor, cache_rows: int
) -> Tuple[Tensor, Optional[Tensor]]:
    """Rows after a beam reorder, and the cache rows to keep when some are no longer used.

    Returns (rows' (N',), keep (U',) or None); with ``keep`` the cache must become
    ``cache.index_select(0, keep)`` and ``rows'`` already indexes that compacted cache.
    """
    rows = rows.index_select(0, new_order)
    used, inverse = torch.unique(rows, sorted=True, return_inverse=True)
    if used.numel() == cache_rows:
        return rows, None
    return inverse, used


def group_size(rows: Tensor, cache_rows: int) -> Optional[int]:
    """g if ``rows`` == [0]*g + [1]*g + ... + [U-1]*g (beams of a sentence together)."""
    if cache_rows == 0 or rows.numel() % cache_rows:
        return None
    g = rows.numel() // cache_rows
    expected = torch.arange(cache_rows, device=rows.device).repeat_interleave(g)
    return g if torch.equal(rows, expected) else None
