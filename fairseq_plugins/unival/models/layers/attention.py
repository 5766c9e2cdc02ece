"""Multi-head attention with an additive position bias and per-head gains (OFA's attention).

logits = (q · k) / sqrt(d_h * scale_factor) + bias, padded keys -> -inf, softmax (fp32),
dropout, weighted sum of v, optional per-head gain ``c_attn``, ``out_proj``.
Keys/values are cached in fairseq's incremental state so that fairseq's own
``SequenceGenerator`` can drive the decoder.
"""

from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from fairseq.incremental_decoding_utils import with_incremental_state
from torch import Tensor, nn

from unival.models.layers.attention_fast import (
    fast_forward,
    packed_forward,
    reorder_static_cache,
)
from unival.models.layers.linear import Linear
from unival.models.layers.packed_rows import PackedRows
from unival.models.perf import fast_paths_enabled

IncrementalState = Dict[str, Dict[str, Optional[Tensor]]]


@with_incremental_state
class BiasedMultiheadAttention(nn.Module):
    """Attention over (T, B, C) inputs with parameters ``{q,k,v,out}_proj`` and ``c_attn``.

    Args:
        embed_dim: model width C.
        num_heads: H; the head width is C / H.
        kdim / vdim: width of keys / values (cross-attention), default C.
        dropout: dropout on the attention probabilities.
        scale_factor: logits are divided by ``sqrt(d_h * scale_factor)``.
        scale_heads: add the learnable per-head gain ``c_attn`` (H,), init 1.
        encoder_decoder_attention: keys/values come from a static memory that is
            projected once and cached during incremental decoding.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        kdim: Optional[int] = None,
        vdim: Optional[int] = None,
        dropout: float = 0.0,
        scale_factor: float = 2.0,
        scale_heads: bool = False,
        encoder_decoder_attention: bool = False,
    ):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by {num_heads} heads")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.scaling = float(self.head_dim * scale_factor) ** -0.5
        self.dropout = dropout
        self.encoder_decoder_attention = encoder_decoder_attention
        self.c_attn = nn.Parameter(torch.ones(num_heads)) if scale_heads else None
        self.k_proj = Linear(kdim or embed_dim, embed_dim)
        self.v_proj = Linear(vdim or embed_dim, embed_dim)
        self.q_proj = Linear(embed_dim, embed_dim)
        self.out_proj = Linear(embed_dim, embed_dim)

    def _split_heads(self, x: Tensor, bsz: int) -> Tensor:
        """(L, B, C) -> (B, H, L, d_h)."""
        return x.reshape(x.size(0), bsz, self.num_heads, self.head_dim).permute(1, 2, 0, 3)

    def forward(
        self,
        query: Tensor,
        key: Optional[Tensor],
        key_padding_mask: Optional[Tensor] = None,
        attn_bias: Optional[Tensor] = None,
        attn_mask: Optional[Tensor] = None,
        incremental_state: Optional[IncrementalState] = None,
        need_weights: bool = False,
        need_head_weights: bool = False,
        key_rows: Optional[Tensor] = None,
        packed: Optional[PackedRows] = None,
    ) -> Tuple[Tensor, Optional[Tensor]]:
        """Attend ``query`` (T, B, C) to ``key`` (S, B, C) (key is also the value).

        Args:
            key_padding_mask: (B, S) bool, True = padded key (masked out).
            attn_bias: (B or 1, H, T', S') additive bias; its last T rows and last S
                columns are used (T' >= T, S' >= S).
            attn_mask: (T, S) additive float mask (the causal mask).
            incremental_state: fairseq decoding cache; with it, self-attention appends the
                new keys to the cached ones and cross-attention reuses its cached memory.
        Returns:
            output (T, B, C) and, if requested, the attention probabilities: (H, B, T, S)
            with ``need_head_weights`` or their mean over heads (B, T, S).

        Fast path (:mod:`unival.models.perf`): see :mod:`.attention_fast`; ``key_rows``
        (B,) maps each query row to a row of ``key`` when cross-attention starts
        incremental decoding with one memory row per sentence (beam search). With
        ``packed`` (training), ``query`` is (N, C), its rows' real positions, the output
        (N, C) too, and ``key`` is the same rows (self-attention) or a padded memory.
        """
        if packed is not None:
            if incremental_state is not None:
                raise ValueError("packed rows are for training, not incremental decoding")
            self_attention = key is query
            return packed_forward(
                self,
                query,
                packed,
                None if self_attention else key,
                key_padding_mask,
                attn_bias,
                attn_mask,
                need_weights or need_head_weights,
                need_head_weights,
            )
        if fast_paths_enabled():
            return fast_forward(
                self,
                query,
                key,
                key_padding_mask,
                attn_bias,
                attn_mask,
                incremental_state,
                need_weights or need_head_weights,
                key_rows,
                need_head_weights,
            )
        tgt_len, bsz, _ = query.shape
        q = self._split_heads(self.q_proj(query) * self.scaling, bsz)
        k, v, key_padding_mask = self._keys_and_values(
            key, key_padding_mask, bsz, incremental_state
        )
        src_len = k.size(2)

        logits = torch.matmul(q, k.transpose(2, 3))  # (B, H, T, S)
        if attn_bias is not None:
            logits = logits + attn_bias[:, :, -tgt_len:, -src_len:]
        if attn_mask is not None:
            logits = logits + attn_mask
        if key_padding_mask is not None:
            logits = logits.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))

        probs = F.softmax(logits, dim=-1, dtype=torch.float32)
        dropped = F.dropout(probs.type_as(logits), p=self.dropout, training=self.training)
        context = torch.matmul(dropped, v)  # (B, H, T, d_h)
        if self.c_attn is not None:
            context = context * self.c_attn[None, :, None, None]
        context = context.permute(2, 0, 1, 3).reshape(tgt_len, bsz, self.embed_dim)
        out = self.out_proj(context)

        if not (need_weights or need_head_weights):
            return out, None
        weights = probs.transpose(0, 1)  # (H, B, T, S)
        return out, (weights if need_head_weights else weights.mean(dim=0))

    def _keys_and_values(
        self,
        key: Optional[Tensor],
        key_padding_mask: Optional[Tensor],
        bsz: int,
        incremental_state: Optional[IncrementalState],
    ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        """Project (or fetch from the cache) keys/values (B, H, S, d_h) and their mask."""
        if incremental_state is None:
            k = self._split_heads(self.k_proj(key), bsz)
            v = self._split_heads(self.v_proj(key), bsz)
            return k, v, key_padding_mask

        cache = self._get_input_buffer(incremental_state)
        if self.encoder_decoder_attention and "prev_key" in cache:
            return cache["prev_key"], cache["prev_value"], cache.get("prev_key_padding_mask")

        k = self._split_heads(self.k_proj(key), bsz)
        v = self._split_heads(self.v_proj(key), bsz)
        if not self.encoder_decoder_attention and "prev_key" in cache:
            k = torch.cat([cache["prev_key"], k], dim=2)
            v = torch.cat([cache["prev_value"], v], dim=2)
            key_padding_mask = self._extend_mask(
                cache.get("prev_key_padding_mask"), key_padding_mask, bsz, k.size(2)
            )
        cache["prev_key"], cache["prev_value"] = k, v
        cache["prev_key_padding_mask"] = key_padding_mask
        self._set_input_buffer(incremental_state, cache)
        return k, v, key_padding_mask

    @staticmethod
    def _extend_mask(
        prev: Optional[Tensor], new: Optional[Tensor], bsz: int, total: int
    ) -> Optional[Tensor]:
        """Concatenate cached and new key padding masks; a missing part is all False."""
        if prev is None and new is None:
            return None
        if prev is None:
            prev = new.new_zeros(bsz, total - new.size(1))
        if new is None:
            new = prev.new_zeros(bsz, total - prev.size(1))
        return torch.cat([prev, new], dim=1)

    def reorder_incremental_state(self, incremental_state: IncrementalState, new_order: Tensor):
        """Select the cached rows of the hypotheses that beam search keeps."""
        cache = self._get_input_buffer(incremental_state)
        if "rows" in cache:  # fast-path memory stored once per sentence
            reorder_static_cache(cache, new_order)
        else:
            for name, value in cache.items():
                if value is not None:
                    cache[name] = value.index_select(0, new_order)
        if cache:
            self._set_input_buffer(incremental_state, cache)
        return incremental_state

    def _get_input_buffer(
        self, incremental_state: Optional[IncrementalState]
    ) -> Dict[str, Optional[Tensor]]:
        result = self.get_incremental_state(incremental_state, "attn_state")
        return result if result is not None else {}

    def _set_input_buffer(self, incremental_state: IncrementalState, buffer):
        return self.set_incremental_state(incremental_state, "attn_state", buffer)
