"""The UnIVAL decoder: causal transformer with absolute + relative position biases (§1.7).

Works with fairseq's incremental decoding (``SequenceGenerator``): the position biases
are computed for the whole prefix's keys and only the newest query row is used.
``extra`` = {"attn": [(B, T, S) last layer's cross-attention averaged over heads],
"inner_states": [(T, B, C) per layer]}.
"""
import math
from typing import Any, Dict, List, Optional, Tuple

import torch
from fairseq import utils
from fairseq.models import FairseqIncrementalDecoder
from fairseq.modules import FairseqDropout, LayerNorm
from torch import Tensor, nn

from unival.models.layers import UnivalDecoderLayer, drop_path_rates
from unival.models.layers.attention import IncrementalState
from unival.models.layers.position_bias import absolute_position_bias, token_relative_bias
from unival.models.layers.position_buckets import (
    code_position_ids,
    image_bucket_count,
    make_image_bucket_position,
    make_token_bucket_position,
    token_bucket_count,
)


class UnivalDecoder(FairseqIncrementalDecoder):
    """Decoder of :class:`~unival.models.unival.UnivalModel`.

    Args:
        cfg: a resolved :class:`~unival.models.config.UnivalConfig`.
        dictionary: the target dictionary.
        embed_tokens: token embedding (V, C).
        output_projection: optional output layer; by default tied to ``embed_tokens``
            when ``share_decoder_input_output_embed``, else a new (C -> V) layer.
    """

    def __init__(self, cfg, dictionary, embed_tokens: nn.Embedding,
                 output_projection: Optional[nn.Linear] = None):
        super().__init__(dictionary)
        self.register_buffer("version", torch.Tensor([3]))
        self._future_mask = torch.empty(0)
        dim = cfg.decoder_embed_dim
        if embed_tokens.embedding_dim != dim or cfg.decoder_output_dim != dim:
            raise ValueError("decoder input/output dims must equal decoder_embed_dim")
        heads = cfg.decoder_attention_heads
        grid = cfg.image_bucket_size
        self.num_attention_heads = heads
        self.padding_idx = embed_tokens.padding_idx
        self.max_target_positions = cfg.max_target_positions
        self.add_positions_to_input = not cfg.disable_entangle
        self.dropout_module = FairseqDropout(cfg.dropout, module_name=type(self).__name__)

        self.embed_tokens = embed_tokens
        self.embed_scale = 1.0 if cfg.no_scale_embedding else math.sqrt(dim)
        self.layernorm_embedding = LayerNorm(dim) if cfg.layernorm_embedding else None
        self.embed_positions = nn.Embedding(cfg.max_target_positions + 2, dim)
        self.embed_image_positions = nn.Embedding(grid * grid + 1, dim)
        self.pos_ln = LayerNorm(dim)
        self.image_pos_ln = LayerNorm(dim)
        self.pos_scaling = float(dim / heads * cfg.attn_scale_factor) ** -0.5
        self.self_pos_q_linear = nn.Linear(dim, dim)
        self.self_pos_k_linear = nn.Linear(dim, dim)
        self.cross_pos_q_linear = nn.Linear(dim, dim)
        self.cross_pos_k_linear = nn.Linear(dim, dim)
        # image-code targets (text-to-image) are not implemented; the LN keeps name parity
        self.code_layernorm_embedding = LayerNorm(dim) if cfg.code_layernorm_embedding else None

        rates = drop_path_rates(cfg.decoder_drop_path_rate, cfg.decoder_layers)
        self.layers = nn.ModuleList(UnivalDecoderLayer(cfg, rate) for rate in rates)
        self.num_layers = len(self.layers)
        self.layer_norm = LayerNorm(dim) if cfg.decoder_normalize_before else None

        if output_projection is None:
            output_projection = nn.Linear(dim, len(dictionary), bias=False)
            if cfg.share_decoder_input_output_embed:
                output_projection.weight = embed_tokens.weight
            else:
                nn.init.normal_(output_projection.weight, mean=0, std=dim ** -0.5)
        self.output_projection = output_projection

        self.token_rel_pos_table_list = nn.ModuleList(
            nn.Embedding(token_bucket_count(cfg.token_bucket_size), heads)
            for _ in range(cfg.decoder_layers)
        )
        self.image_rel_pos_table_list = nn.ModuleList(
            nn.Embedding(image_bucket_count(grid), heads) for _ in range(cfg.decoder_layers)
        )
        self.register_buffer("token_rp_bucket", make_token_bucket_position(cfg.token_bucket_size))
        self.register_buffer("image_rp_bucket", make_image_bucket_position(grid))
        self.register_buffer("image_position_idx", code_position_ids(cfg.code_image_size, grid))

    def forward(
        self,
        prev_output_tokens: Tensor,
        encoder_out: Optional[Dict[str, List[Tensor]]] = None,
        incremental_state: Optional[IncrementalState] = None,
        features_only: bool = False,
        full_context_alignment: bool = False,
        alignment_layer: Optional[int] = None,
        alignment_heads: Optional[int] = None,
        src_lengths: Optional[Any] = None,
        return_all_hiddens: bool = False,
    ) -> Tuple[Tensor, Dict[str, List[Optional[Tensor]]]]:
        """prev_output_tokens (B, T) -> logits (B, T, V) (or features (B, T, C)), extra.

        With ``incremental_state`` the whole prefix is passed and only its last position
        is computed: the output is (B, 1, V).
        """
        x, extra = self.extract_features(
            prev_output_tokens, encoder_out, incremental_state,
            full_context_alignment, alignment_layer, alignment_heads,
        )
        if not features_only:
            x = self.output_layer(x)
        return x, extra

    def extract_features(
        self,
        prev_output_tokens: Tensor,
        encoder_out: Optional[Dict[str, List[Tensor]]],
        incremental_state: Optional[IncrementalState] = None,
        full_context_alignment: bool = False,
        alignment_layer: Optional[int] = None,
        alignment_heads: Optional[int] = None,
    ) -> Tuple[Tensor, Dict[str, List[Optional[Tensor]]]]:
        """Decoder features (B, T, C) after the final LayerNorm, and ``extra``."""
        if encoder_out is None:
            raise ValueError("the UnIVAL decoder needs the encoder output")
        if alignment_layer is None:
            alignment_layer = self.num_layers - 1
        enc = encoder_out["encoder_out"][0]
        enc_mask = (encoder_out["encoder_padding_mask"] or [None])[0]
        prefix_len = prev_output_tokens.size(1)
        incremental = incremental_state is not None

        raw_positions = self.embed_positions(
            torch.arange(prefix_len, device=prev_output_tokens.device)
        )
        key_positions = self.pos_ln(raw_positions).unsqueeze(0)  # (1, L, C)
        query_positions = key_positions[:, -1:] if incremental else key_positions
        self_abs_bias = absolute_position_bias(
            self.self_pos_q_linear, self.self_pos_k_linear, query_positions, key_positions,
            self.num_attention_heads, self.pos_scaling,
        )
        cross_bias = absolute_position_bias(
            self.cross_pos_q_linear, self.cross_pos_k_linear, query_positions,
            encoder_out["position_embeddings"][0], self.num_attention_heads, self.pos_scaling,
        )

        tokens = prev_output_tokens[:, -1:] if incremental else prev_output_tokens
        x = self.embed_scale * self.embed_tokens(tokens)
        if self.add_positions_to_input:
            x = x + (raw_positions[-1:] if incremental else raw_positions)
        if self.layernorm_embedding is not None:
            x = self.layernorm_embedding(x)
        x = self.dropout_module(x).transpose(0, 1)
        pads = tokens.eq(self.padding_idx)
        self_padding_mask = pads if pads.any() else None
        causal_mask = None
        if not incremental and not full_context_alignment:
            causal_mask = self.buffered_future_mask(x)

        attn: Optional[Tensor] = None
        inner_states: List[Optional[Tensor]] = [x]
        for idx, layer in enumerate(self.layers):
            rel = token_relative_bias(
                self.token_rel_pos_table_list[idx], self.token_rp_bucket, prefix_len
            )
            x, layer_attn = layer(
                x, enc, enc_mask, incremental_state,
                self_attn_mask=causal_mask,
                self_attn_padding_mask=self_padding_mask,
                self_attn_bias=self_abs_bias + rel[:, :, -query_positions.size(1):],
                cross_attn_bias=cross_bias,
                need_head_weights=idx == alignment_layer,
            )
            inner_states.append(x)
            if layer_attn is not None and idx == alignment_layer:
                attn = layer_attn.float().to(x)
        if attn is not None:
            if alignment_heads is not None:
                attn = attn[:alignment_heads]
            attn = attn.mean(dim=0)
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return x.transpose(0, 1), {"attn": [attn], "inner_states": inner_states}

    def output_layer(self, features: Tensor) -> Tensor:
        """(B, T, C) -> (B, T, V) logits through the (tied) output projection."""
        return self.output_projection(features)

    def max_positions(self) -> int:
        """Maximum target length."""
        return self.max_target_positions

    def buffered_future_mask(self, tensor: Tensor) -> Tensor:
        """(T, T) additive causal mask (-inf above the diagonal) for input (T, B, C)."""
        dim = tensor.size(0)
        if self._future_mask.size(0) < dim or self._future_mask.device != tensor.device:
            self._future_mask = torch.triu(utils.fill_with_neg_inf(torch.zeros(dim, dim)), 1)
        self._future_mask = self._future_mask.to(tensor)
        return self._future_mask[:dim, :dim]
