"""The UnIVAL decoder: causal transformer with absolute + relative position biases.

Works with fairseq's incremental decoding (``SequenceGenerator``): the position biases
are computed for the whole prefix's keys and only the newest query row is used.
``extra`` = {"attn": [(B, T, S) last layer's cross-attention averaged over heads],
"inner_states": [(T, B, C) per layer]}.
"""

import math
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.utils.checkpoint
from fairseq import utils
from fairseq.models import FairseqIncrementalDecoder
from fairseq.modules import FairseqDropout, LayerNorm
from torch import Tensor, nn

from unival.models.layers import UnivalDecoderLayer, drop_path_rates
from unival.models.layers.attention import IncrementalState
from unival.models.layers.grouped_rows import reorder_rows, unique_rows
from unival.models.layers.linear import Linear
from unival.models.layers.packed_rows import PackedRows
from unival.models.layers.position_bias import (
    absolute_position_bias,
    token_relative_bias,
    token_relative_bias_rows,
)
from unival.models.layers.position_buckets import (
    code_position_ids,
    image_bucket_count,
    make_image_bucket_position,
    make_token_bucket_position,
    token_bucket_count,
)
from unival.models.perf import fast_paths_enabled


class UnivalDecoder(FairseqIncrementalDecoder):
    """Decoder of :class:`~unival.models.unival.UnivalModel`.

    Args:
        cfg: a resolved :class:`~unival.models.config.UnivalConfig`.
        dictionary: the target dictionary.
        embed_tokens: token embedding (V, C).
        output_projection: optional output layer; by default tied to ``embed_tokens``
            when ``share_decoder_input_output_embed``, else a new (C -> V) layer.
    """

    def __init__(
        self,
        cfg,
        dictionary,
        embed_tokens: nn.Embedding,
        output_projection: Optional[nn.Linear] = None,
    ):
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
        self.checkpoint_activations = bool(getattr(cfg, "checkpoint_activations", False))
        self.layer_norm = LayerNorm(dim) if cfg.decoder_normalize_before else None

        if output_projection is None:
            output_projection = Linear(dim, len(dictionary), bias=False)
            if cfg.share_decoder_input_output_embed:
                output_projection.weight = embed_tokens.weight
            else:
                nn.init.normal_(output_projection.weight, mean=0, std=dim**-0.5)
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
            prev_output_tokens,
            encoder_out,
            incremental_state,
            full_context_alignment,
            alignment_layer,
            alignment_heads,
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
        """Decoder features (B, T, C) after the final LayerNorm, and ``extra``.

        Fast path in training: the layers run on the real (non-pad) positions only, and the
        pad positions' features are zeros (their values never reach a real position)."""
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
            self.self_pos_q_linear,
            self.self_pos_k_linear,
            query_positions,
            key_positions,
            self.num_attention_heads,
            self.pos_scaling,
        )
        fast = incremental and fast_paths_enabled()
        key_rows: Optional[Tensor] = None
        if fast:  # memory and cross position keys once per sentence, cached
            enc, enc_mask, key_rows, cross_bias = self._cached_memory(
                encoder_out, incremental_state, query_positions
            )
        else:
            cross_bias = absolute_position_bias(
                self.cross_pos_q_linear,
                self.cross_pos_k_linear,
                query_positions,
                encoder_out["position_embeddings"][0],
                self.num_attention_heads,
                self.pos_scaling,
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
        packed = None
        if (
            self.training
            and fast_paths_enabled()
            and not incremental
            and self_padding_mask is not None
        ):
            # the layers run on the real positions only (see layers/packed_rows.py)
            packed = PackedRows.from_padding(pads)
            x = packed.pack(x.transpose(0, 1))  # (B, T, C) again, contiguous: no copy
        num_queries = query_positions.size(1)
        checkpoint = self.checkpoint_activations and self.training and torch.is_grad_enabled()
        for idx, layer in enumerate(self.layers):
            table = self.token_rel_pos_table_list[idx]
            if fast:
                rel = token_relative_bias_rows(table, self.token_rp_bucket, prefix_len, num_queries)
            else:
                rel = token_relative_bias(table, self.token_rp_bucket, prefix_len)
                rel = rel[:, :, -num_queries:]
            kwargs = dict(
                self_attn_mask=causal_mask,
                self_attn_padding_mask=self_padding_mask,
                self_attn_bias=self_abs_bias + rel,
                cross_attn_bias=cross_bias,
                need_head_weights=idx == alignment_layer,
            )
            if key_rows is not None:
                kwargs["key_rows"] = key_rows
            if packed is not None:
                kwargs["packed"] = packed
            if checkpoint and not incremental:
                x, layer_attn = torch.utils.checkpoint.checkpoint(
                    layer, x, enc, enc_mask, None, use_reentrant=False, **kwargs
                )
            else:
                x, layer_attn = layer(x, enc, enc_mask, incremental_state, **kwargs)
            inner_states.append(x if packed is None else packed.unpack(x).transpose(0, 1))
            if layer_attn is not None and idx == alignment_layer:
                attn = layer_attn.float().to(x)
        if attn is not None:
            if alignment_heads is not None:
                attn = attn[:alignment_heads]
            attn = attn.mean(dim=0)
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        x = packed.unpack(x) if packed is not None else x.transpose(0, 1)
        return x, {"attn": [attn], "inner_states": inner_states}

    def _cached_memory(self, encoder_out, incremental_state, query_positions: Tensor):
        """Fast incremental path: (memory (S, U, C) or the full one, its mask, key_rows (N,)
        on the first step else None, cross bias (U, H, 1, S)).

        The cross position keys are projected once per sentence (rows sharing an
        ``encoder_out["row_source"]`` id, see ``UnivalEncoder.reorder_encoder_out``) and
        kept in the incremental state; each step only projects its one query position.
        """
        enc = encoder_out["encoder_out"][0]
        enc_mask = (encoder_out["encoder_padding_mask"] or [None])[0]
        state = self.get_incremental_state(incremental_state, "memory")
        key_rows = None
        if state is None:
            positions = encoder_out["position_embeddings"][0]
            source = encoder_out.get("row_source") or []
            if source:
                first, key_rows = unique_rows(source[0])
                enc = enc.index_select(1, first)
                positions = positions.index_select(0, first)
                enc_mask = enc_mask.index_select(0, first) if enc_mask is not None else None
            else:
                key_rows = torch.arange(enc.size(1), device=enc.device)
            keys = self.cross_pos_k_linear(positions)  # (U, S, C)
            keys = keys.reshape(keys.size(0), keys.size(1), self.num_attention_heads, -1)
            state = {"cross_pos_k": keys.transpose(1, 2).contiguous(), "rows": key_rows}
            self.set_incremental_state(incremental_state, "memory", state)
        keys = state["cross_pos_k"]
        query = self.cross_pos_q_linear(query_positions)  # (1, 1, C)
        query = query.reshape(1, 1, self.num_attention_heads, -1).transpose(1, 2)
        bias = torch.matmul(query * self.pos_scaling, keys.transpose(2, 3))  # (U, H, 1, S)
        return enc, enc_mask, key_rows, bias

    def reorder_incremental_state(self, incremental_state: IncrementalState, new_order: Tensor):
        """Beam reorder of the fast path's per-sentence cross position keys (no copy)."""
        state = self.get_incremental_state(incremental_state, "memory")
        if state is None:
            return
        rows, keep = reorder_rows(state["rows"], new_order, state["cross_pos_k"].size(0))
        state["rows"] = rows
        if keep is not None:
            state["cross_pos_k"] = state["cross_pos_k"].index_select(0, keep)
        self.set_incremental_state(incremental_state, "memory", state)

    def output_layer(self, features: Tensor) -> Tensor:
        """(B, T, C) -> (B, T, V) logits through the (tied) output projection.

        Fast path: the features are flattened to (B * T, C) first. The decoder's features
        are a transposed view, and torch's matmul would otherwise broadcast the (V, C)
        weight to a batched matmul (about 4x slower for a 59k vocabulary on CPU). The built
        projection is a :class:`~unival.models.layers.linear.Linear` (oneDNN in CPU inference).
        """
        if not fast_paths_enabled():
            return self.output_projection(features)
        flat = features.reshape(-1, features.size(-1))
        return self.output_projection(flat).view(*features.shape[:-1], -1)

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
