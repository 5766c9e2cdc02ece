"""One UnIVAL encoder layer: biased self-attention + FFN, NormFormer extras."""

from typing import Optional

import torch
from fairseq import utils
from fairseq.modules import FairseqDropout, LayerNorm
from torch import Tensor, nn

from unival.models.layers.attention import BiasedMultiheadAttention
from unival.models.layers.drop_path import DropPath
from unival.models.layers.linear import Linear
from unival.models.layers.packed_rows import PackedRows


class UnivalEncoderLayer(nn.Module):
    """Pre-LN (or post-LN) block on (T, B, C) inputs.

    Parameters keep the reference names: ``self_attn`` (with ``c_attn``),
    ``self_attn_layer_norm``, ``attn_ln`` (``scale_attn``), ``fc1``, ``fc2``,
    ``ffn_layernorm`` (``scale_fc``), ``w_resid`` (``scale_resids``), ``final_layer_norm``.
    """

    def __init__(self, cfg, drop_path_rate: float = 0.0):
        super().__init__()
        dim, ffn_dim = cfg.encoder_embed_dim, cfg.encoder_ffn_embed_dim
        self.self_attn = BiasedMultiheadAttention(
            dim,
            cfg.encoder_attention_heads,
            dropout=cfg.attention_dropout,
            scale_factor=cfg.attn_scale_factor,
            scale_heads=cfg.scale_heads,
        )
        self.self_attn_layer_norm = LayerNorm(dim)
        self.dropout_module = FairseqDropout(cfg.dropout, module_name=type(self).__name__)
        self.activation_fn = utils.get_activation_fn(str(cfg.activation_fn))
        self.activation_dropout_module = FairseqDropout(
            float(cfg.activation_dropout or cfg.relu_dropout or 0.0),
            module_name=type(self).__name__,
        )
        self.normalize_before = cfg.encoder_normalize_before
        self.fc1 = Linear(dim, ffn_dim)
        self.fc2 = Linear(ffn_dim, dim)
        self.attn_ln = LayerNorm(dim) if cfg.scale_attn else None
        self.ffn_layernorm = LayerNorm(ffn_dim) if cfg.scale_fc else None
        self.w_resid = nn.Parameter(torch.ones(dim)) if cfg.scale_resids else None
        self.final_layer_norm = LayerNorm(dim)
        self.drop_path = DropPath(drop_path_rate)

    def forward(
        self,
        x: Tensor,
        padding_mask: Optional[Tensor],
        attn_bias: Optional[Tensor],
        packed: Optional[PackedRows] = None,
    ) -> Tensor:
        """x (T, B, C); padding_mask (B, T) bool or None; attn_bias (B, H, T, T). With
        ``packed`` (training), x is (N, C), the real positions only (:mod:`.packed_rows`)."""
        residual = x
        if self.normalize_before:
            x = self.self_attn_layer_norm(x)
        x, _ = self.self_attn(
            x, x, key_padding_mask=padding_mask, attn_bias=attn_bias, packed=packed
        )
        if self.attn_ln is not None:
            x = self.attn_ln(x)
        x = residual + self.drop_path(self.dropout_module(x), packed)
        if not self.normalize_before:
            x = self.self_attn_layer_norm(x)

        residual = x
        if self.normalize_before:
            x = self.final_layer_norm(x)
        x = self.activation_dropout_module(self.activation_fn(self.fc1(x)))
        if self.ffn_layernorm is not None:
            x = self.ffn_layernorm(x)
        x = self.dropout_module(self.fc2(x))
        if self.w_resid is not None:
            residual = residual * self.w_resid
        x = residual + self.drop_path(x, packed)
        if not self.normalize_before:
            x = self.final_layer_norm(x)
        return x
