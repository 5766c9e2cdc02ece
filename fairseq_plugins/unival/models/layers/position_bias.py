"""Position-bias terms added to attention logits (OFA/UnIVAL's scheme).

All functions return biases shaped (B or 1, H, T_q, T_k), ready to be added to the
(B, H, T_q, T_k) attention logits of :class:`BiasedMultiheadAttention`.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def absolute_position_bias(
    q_linear: nn.Linear,
    k_linear: nn.Linear,
    query_pos: Tensor,
    key_pos: Tensor,
    num_heads: int,
    scaling: float,
) -> Tensor:
    """Per-head dot product of projected position embeddings.

    Args:
        query_pos: (B, T_q, C) normalised position embeddings of the queries.
        key_pos: (B, T_k, C) normalised position embeddings of the keys.
        scaling: ``(d_h * attn_scale_factor) ** -0.5`` (as in the attention itself).
    Returns:
        (B, H, T_q, T_k).
    """
    bsz = query_pos.size(0)
    q = q_linear(query_pos).reshape(bsz, query_pos.size(1), num_heads, -1).transpose(1, 2)
    k = k_linear(key_pos).reshape(key_pos.size(0), key_pos.size(1), num_heads, -1).transpose(1, 2)
    return torch.matmul(q * scaling, k.transpose(2, 3))


def token_relative_bias(table: nn.Embedding, rp_bucket: Tensor, length: int) -> Tensor:
    """Text-text relative bias for positions ``0 .. length-1``.

    Args:
        table: (2 * B_tok - 1, H) per-layer bias table.
        rp_bucket: (P, P) bucket buffer (``token_rp_bucket``).
    Returns:
        (1, H, length, length).
    """
    values = F.embedding(rp_bucket[:length, :length], table.weight)  # (L, L, H)
    return values.permute(2, 0, 1).unsqueeze(0)


def token_relative_bias_rows(
    table: nn.Embedding, rp_bucket: Tensor, length: int, rows: int
) -> Tensor:
    """The last ``rows`` query rows of :func:`token_relative_bias`: (1, H, rows, length)."""
    values = F.embedding(rp_bucket[length - rows : length, :length], table.weight)
    return values.permute(2, 0, 1).unsqueeze(0)


def patch_relative_bias(table: nn.Embedding, rp_bucket: Tensor, position_ids: Tensor) -> Tensor:
    """Patch-patch relative bias looked up by each sample's grid position ids.

    Args:
        table: ((2G - 1)² + 3, H) per-layer bias table.
        rp_bucket: (G² + 1, G² + 1) bucket buffer (``image_rp_bucket``).
        position_ids: (B, N) grid ids of the patches (0 allowed for padding slots).
    Returns:
        (B, H, N, N).
    """
    buckets = rp_bucket[position_ids[:, :, None], position_ids[:, None, :]]  # (B, N, N)
    return F.embedding(buckets, table.weight).permute(0, 3, 1, 2)
