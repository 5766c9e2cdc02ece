"""The UnIVAL encoder: [media patches ; text] through biased transformer layers.

Output (fairseq convention, each value a list holding at most one tensor):
``encoder_out`` [(T, B, C)], ``encoder_padding_mask`` [(B, T)] (True = pad),
``position_embeddings`` [(B, T, C)] (normalised, used by the decoder's cross-attention
bias), ``encoder_states`` (all layer inputs/outputs with ``return_all_hiddens``),
``encoder_embedding`` / ``src_tokens`` / ``src_lengths`` (empty).

Fast path in training: the layers run on the real (non-pad) positions only
(:mod:`unival.models.layers.packed_rows`), and the padded positions of ``encoder_out``
are zeros.
"""

import math
from typing import Dict, List, Optional

import torch
import torch.utils.checkpoint
from fairseq.models import FairseqEncoder
from fairseq.modules import FairseqDropout, LayerNorm
from torch import Tensor, nn

from unival.data.modality import Modality
from unival.models.adapters import PatchEmbeddings, default_patch_types, embed_patch_batch
from unival.models.adapters.construction import (
    build_audio_modules,
    build_image_modules,
    build_video_modules,
)
from unival.models.layers import UnivalEncoderLayer, drop_path_rates
from unival.models.layers.packed_rows import PackedRows
from unival.models.layers.position_bias import (
    absolute_position_bias,
    patch_relative_bias,
    token_relative_bias,
)
from unival.models.layers.position_buckets import (
    image_bucket_count,
    make_image_bucket_position,
    make_token_bucket_position,
    token_bucket_count,
)
from unival.models.perf import fast_paths_enabled

EncoderOut = Dict[str, List[Tensor]]


class UnivalEncoder(FairseqEncoder):
    """Encoder of :class:`~unival.models.unival.UnivalModel`.

    Args:
        cfg: a resolved :class:`~unival.models.config.UnivalConfig`.
        dictionary: the source dictionary.
        embed_tokens: token embedding (V, C), shared with the decoder when tied.
    """

    def __init__(self, cfg, dictionary, embed_tokens: nn.Embedding):
        super().__init__(dictionary)
        self.register_buffer("version", torch.Tensor([3]))
        dim = embed_tokens.embedding_dim
        heads = cfg.encoder_attention_heads
        grid = cfg.image_bucket_size
        self.grid_size = grid
        self.num_attention_heads = heads
        self.padding_idx = embed_tokens.padding_idx
        self.max_source_positions = cfg.max_source_positions
        self.entangle_position_embedding = cfg.entangle_position_embedding
        self.sample_patch_nums = {
            Modality.IMAGE: cfg.sample_patch_num,
            Modality.VIDEO: cfg.sample_video_patch_num or cfg.sample_patch_num,
            Modality.AUDIO: cfg.sample_audio_patch_num or cfg.sample_patch_num,
        }
        self.dropout_module = FairseqDropout(cfg.dropout, module_name=type(self).__name__)

        self.embed_tokens = embed_tokens
        self.embed_scale = 1.0 if cfg.no_scale_embedding else math.sqrt(dim)
        self.layernorm_embedding = LayerNorm(dim) if cfg.layernorm_embedding else None
        self.type_embedding = nn.Embedding(2, dim) if cfg.add_type_embedding else None

        self.embed_images, self.image_proj = build_image_modules(cfg, dim)
        video = build_video_modules(cfg, dim)
        if video is not None:
            self.embed_videos, self.video_proj = video[0], video[1]
            self.embed_video_positions = nn.Embedding(grid * grid + 1, dim)
        audio = build_audio_modules(cfg, dim)
        if audio is not None:
            self.embed_audios, self.audio_proj = audio[0], audio[1]
            self.embed_audio_positions = nn.Embedding(grid * grid + 1, dim)
        self.patch_layernorm_embedding = LayerNorm(dim) if cfg.patch_layernorm_embedding else None

        self.embed_positions = nn.Embedding(cfg.max_source_positions + 2, dim)
        self.embed_image_positions = nn.Embedding(grid * grid + 1, dim)
        self.pos_ln = LayerNorm(dim)
        self.image_pos_ln = LayerNorm(dim)
        self.pos_scaling = float(dim / heads * cfg.attn_scale_factor) ** -0.5
        self.pos_q_linear = nn.Linear(dim, dim)
        self.pos_k_linear = nn.Linear(dim, dim)

        rates = drop_path_rates(cfg.encoder_drop_path_rate, cfg.encoder_layers)
        self.layers = nn.ModuleList(UnivalEncoderLayer(cfg, rate) for rate in rates)
        self.num_layers = len(self.layers)
        self.checkpoint_activations = bool(getattr(cfg, "checkpoint_activations", False))
        self.layer_norm = LayerNorm(dim) if cfg.encoder_normalize_before else None

        self.token_rel_pos_table_list = nn.ModuleList(
            nn.Embedding(token_bucket_count(cfg.token_bucket_size), heads)
            for _ in range(cfg.encoder_layers)
        )
        self.image_rel_pos_table_list = nn.ModuleList(
            nn.Embedding(image_bucket_count(grid), heads) for _ in range(cfg.encoder_layers)
        )
        self.register_buffer("token_rp_bucket", make_token_bucket_position(cfg.token_bucket_size))
        self.register_buffer("image_rp_bucket", make_image_bucket_position(grid))

    # ------------------------------------------------------------------ embeddings
    def embed_patches(
        self,
        patch_images: Optional[Tensor],
        patch_masks: Optional[Tensor],
        patch_types: Optional[Tensor],
        patch_videos: Optional[Tensor],
        patch_audios: Optional[Tensor],
        batch_size: int,
        device: torch.device,
    ) -> Optional[PatchEmbeddings]:
        """Patch tokens (B, N, D) of the batch's media, or None for a text-only batch.

        Rows whose ``patch_masks`` is False keep their tokens but as padding.
        """
        media = {
            Modality.IMAGE: patch_images,
            Modality.VIDEO: patch_videos,
            Modality.AUDIO: patch_audios,
        }
        if all(value is None for value in media.values()):
            return None
        if patch_types is None:
            patch_types = torch.full(
                (batch_size,), int(default_patch_types(media)), dtype=torch.long, device=device
            )
        samples = self.sample_patch_nums if self.training else {}
        patches = embed_patch_batch(self, patch_types, media, self.grid_size, samples)
        if patch_masks is not None:
            patches.padding_mask = patches.padding_mask | ~patch_masks.bool()[:, None]
        return patches

    def _embed_text(self, src_tokens: Tensor, raw_positions: Tensor) -> Tensor:
        """(B, L) tokens -> (B, L, C): embedding (+ positions if entangled) + type 0, LN."""
        x = self.embed_scale * self.embed_tokens(src_tokens)
        if self.entangle_position_embedding:
            x = x + raw_positions
        if self.type_embedding is not None:
            x = x + self.type_embedding(torch.zeros_like(src_tokens))
        if self.layernorm_embedding is not None:
            x = self.layernorm_embedding(x)
        return self.dropout_module(x)

    def _embed_patch_tokens(self, patches: PatchEmbeddings) -> Tensor:
        """Patch embeddings (B, N, C) + type 1, patch LN, dropout."""
        x = self.embed_scale * patches.embeds
        if self.entangle_position_embedding:
            x = x + patches.position_embeds
        if self.type_embedding is not None:
            types = torch.ones(x.shape[:2], dtype=torch.long, device=x.device)
            x = x + self.type_embedding(types)
        if self.patch_layernorm_embedding is not None:
            x = self.patch_layernorm_embedding(x)
        return self.dropout_module(x)

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        src_tokens: Tensor,
        src_lengths: Optional[Tensor] = None,
        patch_images: Optional[Tensor] = None,
        patch_masks: Optional[Tensor] = None,
        patch_types: Optional[Tensor] = None,
        patch_videos: Optional[Tensor] = None,
        patch_audios: Optional[Tensor] = None,
        return_all_hiddens: bool = False,
    ) -> EncoderOut:
        """Encode text (B, L) and media; see the module docstring for the output."""
        bsz, text_len = src_tokens.shape
        patches = self.embed_patches(
            patch_images,
            patch_masks,
            patch_types,
            patch_videos,
            patch_audios,
            bsz,
            src_tokens.device,
        )
        raw_positions = self.embed_positions(torch.arange(text_len, device=src_tokens.device))
        x = self._embed_text(src_tokens, raw_positions)
        padding_mask = src_tokens.eq(self.padding_idx)
        positions = self.pos_ln(raw_positions).unsqueeze(0).expand(bsz, -1, -1)
        num_patches = 0
        if patches is not None:
            num_patches = patches.num_patches
            x = torch.cat([self._embed_patch_tokens(patches), x], dim=1)
            padding_mask = torch.cat([patches.padding_mask, padding_mask], dim=1)
            patch_positions = self.image_pos_ln(patches.position_embeds)
            positions = torch.cat([patch_positions, positions.to(patch_positions.dtype)], dim=1)
        has_pads = bool(padding_mask.any())
        packed = None
        if has_pads and self.training and fast_paths_enabled():
            # the layers run on the real positions only (see layers/packed_rows.py)
            packed = PackedRows.from_padding(padding_mask)
            x = packed.pack(x)
        else:
            if has_pads:
                x = x * (1 - padding_mask.unsqueeze(-1).type_as(x))
            x = x.transpose(0, 1)

        abs_bias = absolute_position_bias(
            self.pos_q_linear,
            self.pos_k_linear,
            positions,
            positions,
            self.num_attention_heads,
            self.pos_scaling,
        )

        def time_major(x: Tensor) -> Tensor:
            return x if packed is None else packed.unpack(x).transpose(0, 1)

        states = [time_major(x)] if return_all_hiddens else []
        checkpoint = self.checkpoint_activations and self.training and torch.is_grad_enabled()
        for idx, layer in enumerate(self.layers):
            bias = abs_bias.clone()
            bias[:, :, num_patches:, num_patches:] += token_relative_bias(
                self.token_rel_pos_table_list[idx], self.token_rp_bucket, text_len
            )
            if patches is not None:
                bias[:, :, :num_patches, :num_patches] += patch_relative_bias(
                    self.image_rel_pos_table_list[idx],
                    self.image_rp_bucket,
                    patches.position_ids,
                )
            mask = padding_mask if has_pads else None
            if checkpoint:
                x = torch.utils.checkpoint.checkpoint(
                    layer, x, mask, bias, packed, use_reentrant=False
                )
            else:
                x = layer(x, mask, bias, packed)
            if return_all_hiddens:
                states.append(time_major(x))
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return {
            "encoder_out": [time_major(x)],
            "encoder_padding_mask": [padding_mask],
            "encoder_embedding": [],
            "encoder_states": states,
            "src_tokens": [],
            "src_lengths": [],
            "position_embeddings": [positions],
        }

    def reorder_encoder_out(self, encoder_out: EncoderOut, new_order: Tensor) -> EncoderOut:
        """Select batch rows ``new_order`` (beam search) in every output tensor; the fast
        path adds ``row_source`` [(N,)]: the encoder row each new row was copied from."""
        batch_dim = {"encoder_out": 1, "encoder_states": 1}
        out = {
            key: [value.index_select(batch_dim.get(key, 0), new_order) for value in values]
            for key, values in encoder_out.items()
        }
        if fast_paths_enabled() and "row_source" not in encoder_out:
            # which encoder row each row copies: the decoder's fast path keeps its
            # cross-attention memory once per distinct source row (beam search)
            out["row_source"] = [new_order.clone()]
        return out

    def max_positions(self) -> int:
        """Maximum number of text tokens."""
        return self.max_source_positions
