"""The ``unival`` fairseq model: encoder + decoder glue, init, freezing, loading."""

import logging
from typing import Dict, List, Optional

import torch
from fairseq.checkpoint_utils import prune_state_dict
from fairseq.models import FairseqEncoderDecoderModel, register_model
from fairseq.modules.transformer_sentence_encoder import init_bert_params
from torch import Tensor, nn

from unival.models.adapters.construction import AUDIO_FRONTEND_MODULES
from unival.models.config import UnivalConfig, resolve_config
from unival.models.decoder import UnivalDecoder
from unival.models.encoder import UnivalEncoder
from unival.models.layers.linear import Linear
from unival.models.location_init import init_all_bin_rows, init_grid_positions
from unival.models.missing_weights import DETERMINISTIC_BUFFERS, check_missing
from unival.models.perf import pack_output_projection_enabled, return_freed_memory

logger = logging.getLogger(__name__)

#: Modules ``freeze_encoder`` leaves trainable: the modality encoders and their glue.
MEDIA_MODULES = (
    "embed_images",
    "image_proj",
    "embed_image_positions",
    "embed_videos",
    "video_proj",
    "embed_video_positions",
    "embed_audios",
    "audio_proj",
    "embed_audio_positions",
)
#: Decoder-layer projections of the encoder's output (not packed for decoding steps).
_ENCODER_MEMORY_PROJECTIONS = ("encoder_attn.k_proj", "encoder_attn.v_proj")
#: Token-embedding keys that grow together when the dictionary grows (BART -> UnIVAL).
TOKEN_EMBEDDING_KEYS = (
    "encoder.embed_tokens.weight",
    "decoder.embed_tokens.weight",
    "decoder.output_projection.weight",
)


def drop_logmel_keys(state_dict: Dict[str, Tensor]) -> List[str]:
    """Delete the audio ``logmel_extractor`` entries (evaluation loading, as the original
    evaluator does), so the freshly computed 48 kHz filterbank of the model is used. Returns
    deleted keys."""
    keys = [k for k in state_dict if ".logmel_extractor." in k]
    for key in keys:
        del state_dict[key]
    return keys


@register_model("unival", dataclass=UnivalConfig)
class UnivalModel(FairseqEncoderDecoderModel):
    """UnIVAL encoder-decoder. ``model(**net_input)`` -> (logits (B, T, V), extra)."""

    _inference_only = False  # set by pack_decoder_for_cpu_inference_

    def __init__(self, cfg: UnivalConfig, encoder: UnivalEncoder, decoder: UnivalDecoder):
        super().__init__(encoder, decoder)
        self.cfg = cfg
        self.apply(init_bert_params)
        for module in self.modules():  # the tied output layer re-drew the padding row
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        self._apply_freezing(cfg)

    @classmethod
    def build_model(cls, cfg, task) -> "UnivalModel":
        """Build from a config (dataclass, DictConfig or an official checkpoint's Namespace)
        and a task that provides ``source_dictionary`` / ``target_dictionary``."""
        cfg = resolve_config(cfg)
        src_dict, tgt_dict = task.source_dictionary, task.target_dictionary
        encoder_embed = nn.Embedding(len(src_dict), cfg.encoder_embed_dim, src_dict.pad())
        if cfg.share_all_embeddings:
            if src_dict != tgt_dict or cfg.encoder_embed_dim != cfg.decoder_embed_dim:
                raise ValueError("share_all_embeddings needs one dictionary and one width")
            decoder_embed = encoder_embed
        else:
            decoder_embed = nn.Embedding(len(tgt_dict), cfg.decoder_embed_dim, tgt_dict.pad())
        encoder = UnivalEncoder(cfg, src_dict, encoder_embed)
        decoder = UnivalDecoder(cfg, tgt_dict, decoder_embed)
        model = cls(cfg, encoder, decoder)
        if cfg.sinusoidal_bin_init:
            init_all_bin_rows(model)
        if cfg.sinusoidal_patch_position_init:
            init_grid_positions(model.encoder.embed_image_positions, model.encoder.grid_size)
        return model

    def _apply_freezing(self, cfg: UnivalConfig) -> None:
        """``freeze_*`` flags (e.g. the "onlylinear" recipes): requires_grad False on the frozen
        parts."""
        if cfg.freeze_encoder:
            self.encoder.requires_grad_(False)
            for name in MEDIA_MODULES:
                module = getattr(self.encoder, name, None)
                if module is not None:
                    module.requires_grad_(True)
        if cfg.freeze_decoder:
            self.decoder.requires_grad_(False)
        if cfg.freeze_encoder_embedding:
            self.encoder.embed_tokens.weight.requires_grad_(False)
        if cfg.freeze_decoder_embedding:
            self.decoder.embed_tokens.weight.requires_grad_(False)
        for flag, name in (
            (cfg.freeze_image_encoder, "embed_images"),
            (cfg.freeze_video_encoder, "embed_videos"),
            (cfg.freeze_audio_encoder, "embed_audios"),
        ):
            module = getattr(self.encoder, name, None)
            if flag and module is not None:
                module.requires_grad_(False)
        audio = getattr(self.encoder, "embed_audios", None)
        for part in AUDIO_FRONTEND_MODULES:
            if audio is not None and getattr(audio, part, None) is not None:
                getattr(audio, part).requires_grad_(False)

    def forward(
        self,
        src_tokens: Tensor,
        src_lengths: Tensor,
        prev_output_tokens: Tensor,
        patch_images: Optional[Tensor] = None,
        patch_masks: Optional[Tensor] = None,
        patch_types: Optional[Tensor] = None,
        patch_videos: Optional[Tensor] = None,
        patch_audios: Optional[Tensor] = None,
        features_only: bool = False,
        return_all_hiddens: bool = False,
        alignment_layer: Optional[int] = None,
        alignment_heads: Optional[int] = None,
    ):
        """Shapes as in ``docs/ARCHITECTURE.md``; returns (logits (B, T, V), extra)."""
        encoder_out = self.encoder(
            src_tokens,
            src_lengths=src_lengths,
            patch_images=patch_images,
            patch_masks=patch_masks,
            patch_types=patch_types,
            patch_videos=patch_videos,
            patch_audios=patch_audios,
            return_all_hiddens=return_all_hiddens,
        )
        return self.decoder(
            prev_output_tokens,
            encoder_out=encoder_out,
            features_only=features_only,
            alignment_layer=alignment_layer,
            alignment_heads=alignment_heads,
        )

    # ------------------------------------------------------------------ loading
    def upgrade_state_dict_named(self, state_dict: Dict[str, Tensor], name: str) -> None:
        """Make a checkpoint fit this model, in place.

        1. Drop a trailing ``<mask>`` row the dictionary lacks; grow the token embedding
           (and its tied copies) with N(0, d^-1/2) rows when the dictionary is larger.
        2. Grow ``embed_image_positions`` tables that are shorter than the model's.
        3. Take the deterministic buffers (rp buckets, ``image_position_idx``) from the model.
        4. Entries the checkpoint lacks: the ones the model rebuilds itself (buffers,
           ``version``) come from the model; any other raises
           :class:`unival.models.missing_weights.MissingWeightsError` listing them, unless
           fresh weights are asked for (``allow_missing_weights`` or the environment opt-in).
        """
        super().upgrade_state_dict_named(state_dict, name)
        prefix = f"{name}." if name else ""
        own = self.state_dict()
        self._fit_token_embeddings(state_dict, prefix)
        for key in ("encoder.embed_image_positions.weight", "decoder.embed_image_positions.weight"):
            full = prefix + key
            if full in state_dict and key in own:
                state_dict[full] = _grow_rows(state_dict[full], own[key].size(0))
        for key in DETERMINISTIC_BUFFERS:
            if key in own:
                state_dict[prefix + key] = own[key]
        missing = [key for key in own if prefix + key not in state_dict]
        check_missing(missing, allow=getattr(self, "allow_missing_weights", False))
        for key in missing:
            state_dict[prefix + key] = own[key]

    def _fit_token_embeddings(self, state_dict: Dict[str, Tensor], prefix: str) -> None:
        source = prefix + TOKEN_EMBEDDING_KEYS[0]
        if source not in state_dict:
            return
        vocab = len(self.encoder.dictionary)
        loaded = state_dict[source].size(0)
        if loaded == vocab + 1 and "<mask>" not in self.encoder.dictionary:
            for key in TOKEN_EMBEDDING_KEYS:
                if prefix + key in state_dict:
                    state_dict[prefix + key] = state_dict[prefix + key][:-1]
        elif loaded < vocab:
            extra = _normal_rows(vocab - loaded, state_dict[source])
            for key in TOKEN_EMBEDDING_KEYS:
                if prefix + key in state_dict:
                    state_dict[prefix + key] = torch.cat([state_dict[prefix + key], extra])

    def load_state_dict(self, state_dict, strict: bool = True, model_cfg=None, args=None):
        """fairseq loading (upgrade, prune) plus the reference's ``--strict`` option: with
        ``cfg.strict`` False, checkpoint entries this model lacks are dropped (logged)."""
        self.upgrade_state_dict(state_dict)
        state_dict = prune_state_dict(state_dict, model_cfg)
        if not self.cfg.strict:
            own = set(self.state_dict())
            extra = [key for key in state_dict if key not in own]
            if extra:
                logger.warning(
                    "non-strict load: ignoring %d checkpoint entries, e.g. %s",
                    len(extra),
                    extra[:5],
                )
            state_dict = {k: v for k, v in state_dict.items() if k in own}
        return nn.Module.load_state_dict(self, state_dict, strict)

    def train(self, mode: bool = True):
        """``nn.Module.train``; refused once the decoder's weights are packed for inference."""
        if mode and self._inference_only:
            raise RuntimeError(
                "this model's decoder weights are packed for CPU inference and cannot be "
                "trained; load the checkpoint again to train it"
            )
        return super().train(mode)

    def pack_decoder_for_cpu_inference_(
        self, rows: int = 5, output_projection: Optional[bool] = None
    ) -> int:
        """Keep the weights of the decoder layers' linear layers, but for the cross-attention's
        keys and values, only in oneDNN's blocked layout (see
        ``Linear.pack_for_cpu_inference_``): a decoding step's few rows read them up to twice
        as fast, with the results of the unpacked oneDNN path (to float rounding) and no
        extra memory. The model cannot be trained afterwards (``train()`` refuses, as after
        fairseq's ``make_generation_fast_``). No-op (0) on the plain path, off the CPU or not
        in fp32; returns the number of layers packed.

        ``output_projection`` (default: ``UNIVAL_PACK_OUTPUT_PROJECTION=1`` in the
        environment) packs the vocabulary projection too; tied to the token embeddings (every
        UnIVAL model), that is a second copy of the table (0.18 GB for ``unival_base``), since
        the embeddings' lookups need the plain one."""
        if output_projection is None:
            output_projection = pack_output_projection_enabled()
        packed = 0
        for name, module in self.decoder.layers.named_modules():
            # the cross-attention's keys and values are projected once per sentence, from
            # the encoder's many rows, where the blocked layout gains nothing
            if name.endswith(_ENCODER_MEMORY_PROJECTIONS) or not isinstance(module, Linear):
                continue
            if module.pack_for_cpu_inference_(rows):
                packed += 1
                return_freed_memory()  # the plain weight's pages, before the next layer's copy
        projection = self.decoder.output_projection
        if output_projection and isinstance(projection, Linear):
            shared = projection.weight is self.decoder.embed_tokens.weight
            if projection.pack_for_cpu_inference_(rows):
                projection.packed_copy_of_shared = shared
                packed += 1
        if packed:
            self._inference_only = True
            self.eval()
        return packed


def _normal_rows(count: int, like: Tensor) -> Tensor:
    """``count`` new rows drawn from N(0, d^-1/2), with ``like``'s width and dtype."""
    dim = like.size(1)
    return torch.randn(count, dim).mul_(dim**-0.5).to(like.dtype)


def _grow_rows(table: Tensor, rows: int) -> Tensor:
    """Append N(0, d^-1/2) rows to ``table`` up to ``rows`` rows (no-op if long enough)."""
    if table.size(0) >= rows:
        return table
    return torch.cat([table, _normal_rows(rows - table.size(0), table)])
