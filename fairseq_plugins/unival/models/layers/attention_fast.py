"""Fast path of :class:`~unival.models.layers.attention.BiasedMultiheadAttention`.

Same result as the plain path (to float rounding), computed differently:

* the position bias, the causal mask and the key padding become one additive mask for
  ``torch.nn.functional.scaled_dot_product_attention`` (the explicit softmax is kept only
  when the probabilities are asked for);
* cross-attention in incremental decoding keeps its keys/values once per sentence
  (U rows) plus a row map (:mod:`.grouped_rows`): the B = U * g hypotheses of a beam are
  folded into the query axis, (U, H, g * T, d_h), so beam reordering copies nothing;
* cached keys/values are contiguous;
* in training, the queries (and a self-attention's keys/values) can come packed, (N, C)
  real positions only (:mod:`.packed_rows`): the projections run on the N rows, and only
  the attention core sees the padded layout.
"""

from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from unival.models.layers.grouped_rows import group_size, reorder_rows
from unival.models.layers.packed_rows import PackedRows

Cache = Dict[str, Optional[Tensor]]


def additive_mask(
    attn_bias: Optional[Tensor],
    attn_mask: Optional[Tensor],
    key_padding_mask: Optional[Tensor],
    tgt_len: int,
    src_len: int,
    like: Tensor,
) -> Optional[Tensor]:
    """bias[..., -T:, -S:] + attn_mask, padded keys -inf: (B or 1, H or 1, T, S) or None."""
    mask = None
    if attn_bias is not None:
        mask = attn_bias[:, :, -tgt_len:, -src_len:]
    if attn_mask is not None:
        mask = attn_mask if mask is None else mask + attn_mask
    if key_padding_mask is not None:
        pads = key_padding_mask[:, None, None, :]
        if mask is None:
            mask = torch.zeros(pads.shape, dtype=like.dtype, device=like.device)
        mask = mask.masked_fill(pads, float("-inf"))
    return mask


def attend(
    q: Tensor, k: Tensor, v: Tensor, mask: Optional[Tensor], dropout: float, need_probs: bool
) -> Tuple[Tensor, Optional[Tensor]]:
    """(B, H, T, d) queries (already scaled) -> context (B, H, T, d), probs (B, H, T, S)."""
    if not need_probs:
        if mask is not None:
            mask = mask.to(q.dtype)
        context = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout, scale=1.0
        )
        return context, None
    logits = torch.matmul(q, k.transpose(2, 3))
    if mask is not None:
        logits = logits + mask
    probs = F.softmax(logits, dim=-1, dtype=torch.float32)
    dropped = F.dropout(probs.type_as(logits), p=dropout, training=dropout > 0)
    return torch.matmul(dropped, v), probs


def _static_cache(
    attn,
    key: Tensor,
    key_padding_mask: Optional[Tensor],
    cache: Cache,
    key_rows: Optional[Tensor],
    num_queries: int,
) -> Cache:
    """Cross-attention memory (U, H, S, d) computed once, with its row map (N,)."""
    if "prev_key" not in cache:
        rows = key.size(1)
        cache["prev_key"] = attn._split_heads(attn.k_proj(key), rows).contiguous()
        cache["prev_value"] = attn._split_heads(attn.v_proj(key), rows).contiguous()
        cache["prev_key_padding_mask"] = key_padding_mask
        if key_rows is None:
            key_rows = torch.arange(num_queries, device=key.device)
        cache["rows"] = key_rows
    return cache


def reorder_static_cache(cache: Cache, new_order: Tensor) -> None:
    """Beam reorder of a per-sentence memory: the row map moves, the memory only shrinks."""
    rows, keep = reorder_rows(cache["rows"], new_order, cache["prev_key"].size(0))
    cache["rows"] = rows
    if keep is not None:
        for name in ("prev_key", "prev_value", "prev_key_padding_mask"):
            if cache.get(name) is not None:
                cache[name] = cache[name].index_select(0, keep)


def _fold(x: Tensor, groups: int, g: int) -> Tensor:
    """(U * g, H, T, X) -> (U, H, g * T, X)."""
    _, heads, t, width = x.shape
    return (
        x.reshape(groups, g, heads, t, width).transpose(1, 2).reshape(groups, heads, g * t, width)
    )


def _unfold(x: Tensor, g: int, t: int) -> Tensor:
    """(U, H, g * T, X) -> (U * g, H, T, X)."""
    groups, heads, _, width = x.shape
    return (
        x.reshape(groups, heads, g, t, width).transpose(1, 2).reshape(groups * g, heads, t, width)
    )


def fast_forward(
    attn,
    query: Tensor,
    key: Optional[Tensor],
    key_padding_mask: Optional[Tensor],
    attn_bias: Optional[Tensor],
    attn_mask: Optional[Tensor],
    incremental_state,
    need_probs: bool,
    key_rows: Optional[Tensor],
    need_head_weights: bool,
):
    """Same contract as ``BiasedMultiheadAttention.forward``. In incremental
    cross-attention ``attn_bias`` has one row per memory row (U) or 1."""
    tgt_len, bsz, _ = query.shape
    q = attn._split_heads(attn.q_proj(query) * attn.scaling, bsz)
    dropout = attn.dropout if attn.training else 0.0
    g = 1
    if incremental_state is not None and attn.encoder_decoder_attention:
        cache = _static_cache(
            attn, key, key_padding_mask, attn._get_input_buffer(incremental_state), key_rows, bsz
        )
        attn._set_input_buffer(incremental_state, cache)
        k, v, rows = cache["prev_key"], cache["prev_value"], cache["rows"]
        key_padding_mask = cache["prev_key_padding_mask"]
        groups = k.size(0)
        per_row_bias = attn_bias is not None and attn_bias.size(0) == groups and groups > 1
        g = group_size(rows, groups)
        if g is None:  # beams not side by side: gather (copies, but stays exact)
            g = 1
            k, v = k.index_select(0, rows), v.index_select(0, rows)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.index_select(0, rows)
            if per_row_bias:
                attn_bias = attn_bias.index_select(0, rows)
        elif g > 1:
            q = _fold(q, groups, g)
            if attn_bias is not None:
                bias = attn_bias[:, :, -tgt_len:]
                attn_bias = bias.repeat(1, 1, g, 1)
    else:
        k, v, key_padding_mask = attn._keys_and_values(
            key, key_padding_mask, bsz, incremental_state
        )
    mask = additive_mask(attn_bias, attn_mask, key_padding_mask, q.size(2), k.size(2), q)
    context, probs = attend(q, k, v, mask, dropout, need_probs)
    if g > 1:
        context = _unfold(context, g, tgt_len)
        probs = _unfold(probs, g, tgt_len) if probs is not None else None
    context = _head_gain(attn, context).permute(2, 0, 1, 3).reshape(tgt_len, bsz, attn.embed_dim)
    return attn.out_proj(context), _returned_weights(probs, need_head_weights)


def packed_forward(
    attn,
    query: Tensor,
    rows: PackedRows,
    key: Optional[Tensor],
    key_padding_mask: Optional[Tensor],
    attn_bias: Optional[Tensor],
    attn_mask: Optional[Tensor],
    need_probs: bool,
    need_head_weights: bool,
):
    """``BiasedMultiheadAttention.forward`` on packed queries ``query`` (N, C): ``key`` None
    for self-attention over the same rows, else a padded memory (S, B, C). Returns (N, C)
    and, if asked, the probabilities of the padded layout (pad query rows included)."""
    heads = attn.num_heads
    q = attn.q_proj(query) * attn.scaling
    if key is None:
        both = torch.cat([q, attn.k_proj(query), attn.v_proj(query)], dim=1)
        q, k, v = rows.to_heads(both, heads, parts=3)
    else:
        (q,) = rows.to_heads(q, heads)
        k = attn._split_heads(attn.k_proj(key), rows.batch)
        v = attn._split_heads(attn.v_proj(key), rows.batch)
    mask = additive_mask(attn_bias, attn_mask, key_padding_mask, q.size(2), k.size(2), q)
    dropout = attn.dropout if attn.training else 0.0
    context, probs = attend(q, k, v, mask, dropout, need_probs)
    out = attn.out_proj(rows.from_heads(_head_gain(attn, context)))
    return out, _returned_weights(probs, need_head_weights)


def _head_gain(attn, context: Tensor) -> Tensor:
    """context (B, H, T, d) times the per-head gain, when the layer has one (scale_heads)."""
    return context if attn.c_attn is None else context * attn.c_attn[None, :, None, None]


def _returned_weights(probs: Optional[Tensor], need_head_weights: bool) -> Optional[Tensor]:
    """probs (B, H, T, S) -> per head (H, B, T, S), or their mean over heads (B, T, S)."""
    if probs is None:
        return None
    weights = probs.transpose(0, 1)
    return weights if need_head_weights else weights.mean(dim=0)
