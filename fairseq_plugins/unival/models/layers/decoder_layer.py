"""One UnIVAL decoder layer: causal self-attention, cross-attention, FFN."""

from typing import Optional, Tuple

import torch
from fairseq import utils
from fairseq.modules import FairseqDropout, LayerNorm
from torch import Tensor, nn

from unival.models.layers.attention import BiasedMultiheadAttention, IncrementalState
from unival.models.layers.drop_path import DropPath
from unival.models.layers.linear import Linear
from unival.models.layers.packed_rows import PackedRows


class UnivalDecoderLayer(nn.Module):
    """Pre-LN (or post-LN) decoder block on (T, B, C) inputs.

    Parameters keep the reference names: ``self_attn``, ``self_attn_ln``,
    ``cross_attn_ln``, ``self_attn_layer_norm``, ``encoder_attn``,
    ``encoder_attn_layer_norm``, ``ffn_layernorm``, ``fc1``, ``fc2``, ``final_layer_norm``.
    """

    def __init__(self, cfg, drop_path_rate: float = 0.0):
        super().__init__()
        dim, ffn_dim = cfg.decoder_embed_dim, cfg.decoder_ffn_embed_dim
        self.dropout_module = FairseqDropout(cfg.dropout, module_name=type(self).__name__)
        self.self_attn = BiasedMultiheadAttention(
            dim,
            cfg.decoder_attention_heads,
            dropout=cfg.attention_dropout,
            scale_factor=cfg.attn_scale_factor,
            scale_heads=cfg.scale_heads,
        )
        self.self_attn_ln = LayerNorm(dim) if cfg.scale_attn else None
        self.cross_attn_ln = LayerNorm(dim) if cfg.scale_attn else None
        self.activation_fn = utils.get_activation_fn(str(cfg.activation_fn))
        self.activation_dropout_module = FairseqDropout(
            float(cfg.activation_dropout or cfg.relu_dropout or 0.0),
            module_name=type(self).__name__,
        )
        self.normalize_before = cfg.decoder_normalize_before
        self.self_attn_layer_norm = LayerNorm(dim)
        self.encoder_attn = BiasedMultiheadAttention(
            dim,
            cfg.decoder_attention_heads,
            kdim=cfg.encoder_embed_dim,
            vdim=cfg.encoder_embed_dim,
            dropout=cfg.attention_dropout,
            scale_factor=cfg.attn_scale_factor,
            scale_heads=cfg.scale_heads,
            encoder_decoder_attention=True,
        )
        self.encoder_attn_layer_norm = LayerNorm(dim)
        self.ffn_layernorm = LayerNorm(ffn_dim) if cfg.scale_fc else None
        self.w_resid = nn.Parameter(torch.ones(dim)) if cfg.scale_resids else None
        self.fc1 = Linear(dim, ffn_dim)
        self.fc2 = Linear(ffn_dim, dim)
        self.final_layer_norm = LayerNorm(dim)
        self.drop_path = DropPath(drop_path_rate)

    def _residual(self, x: Tensor, residual: Tensor, packed: Optional[PackedRows]) -> Tensor:
        return residual + self.drop_path(self.dropout_module(x), packed)

    def forward(
        self,
        x: Tensor,
        encoder_out: Tensor,
        encoder_padding_mask: Optional[Tensor],
        incremental_state: Optional[IncrementalState] = None,
        self_attn_mask: Optional[Tensor] = None,
        self_attn_padding_mask: Optional[Tensor] = None,
        self_attn_bias: Optional[Tensor] = None,
        cross_attn_bias: Optional[Tensor] = None,
        need_head_weights: bool = False,
        key_rows: Optional[Tensor] = None,
        packed: Optional[PackedRows] = None,
    ) -> Tuple[Tensor, Optional[Tensor]]:
        """x (T, B, C); encoder_out (S, B, C); masks (B, T) / (B, S) bool; biases
        (B or 1, H, T, T) / (B, H, T, S). Returns x and, with ``need_head_weights``,
        the cross-attention probabilities (H, B, T, S). ``key_rows``: see
        ``BiasedMultiheadAttention.forward`` (fast incremental path). With ``packed``
        (training), x is (N, C), the real positions only (:mod:`.packed_rows`)."""
        residual = x
        if self.normalize_before:
            x = self.self_attn_layer_norm(x)
        x, _ = self.self_attn(
            x,
            x,
            key_padding_mask=self_attn_padding_mask,
            attn_bias=self_attn_bias,
            attn_mask=self_attn_mask,
            incremental_state=incremental_state,
            packed=packed,
        )
        if self.self_attn_ln is not None:
            x = self.self_attn_ln(x)
        x = self._residual(x, residual, packed)
        if not self.normalize_before:
            x = self.self_attn_layer_norm(x)

        residual = x
        if self.normalize_before:
            x = self.encoder_attn_layer_norm(x)
        x, attn = self.encoder_attn(
            x,
            encoder_out,
            key_padding_mask=encoder_padding_mask,
            attn_bias=cross_attn_bias,
            incremental_state=incremental_state,
            need_head_weights=need_head_weights,
            packed=packed,
            **({"key_rows": key_rows} if key_rows is not None else {}),
        )
        if self.cross_attn_ln is not None:
            x = self.cross_attn_ln(x)
        x = self._residual(x, residual, packed)
        if not self.normalize_before:
            x = self.encoder_attn_layer_norm(x)

        residual = x
        if self.normalize_before:
            x = self.final_layer_norm(x)
        x = self.activation_dropout_module(self.activation_fn(self.fc1(x)))
        if self.ffn_layernorm is not None:
            x = self.ffn_layernorm(x)
        x = self.fc2(x)
        if self.w_resid is not None:
            residual = residual * self.w_resid
        x = self._residual(x, residual, packed)
        if not self.normalize_before:
            x = self.final_layer_norm(x)
        return x, attn
