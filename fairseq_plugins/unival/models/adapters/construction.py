"""Build each modality's backbone, projection and position table from the config.

The encoder stores the returned modules under the official names (``embed_images``,
``image_proj``, ``embed_video_positions``, ...). Backbones come from
:mod:`unival.models.backbones`, imported lazily so this package imports without them.
"""

from typing import Optional, Tuple

from torch import nn

from unival.models.backbones import (
    build_audio_backbone,
    build_image_backbone,
    build_video_backbone,
    load_pretrained_backbone,
)
from unival.models.config import parse_layers

#: Audio front-end settings of the reference's AUDIO_CFG (mel bins and hop come from cfg).
AUDIO_FRONTEND = {"sample_rate": 48000, "window_size": 1024, "fmin": 50, "fmax": 14000}
#: Sub-modules of the PANN front end that are deterministic and never trained.
AUDIO_FRONTEND_MODULES = ("spectrogram_extractor", "logmel_extractor")


def encoder_name(value: Optional[str]) -> Optional[str]:
    """Normalise a ``*_encoder_name``: None, "" and "none" mean "no such encoder"."""
    if value is None or str(value).strip().lower() in ("", "none", "null"):
        return None
    return str(value)


def build_image_modules(cfg, embed_dim: int) -> Tuple[nn.Module, nn.Linear]:
    """Image backbone (B, 3, H, W) -> (B, C, h, w) and ``image_proj`` C -> d."""

    backbone = build_image_backbone(
        cfg.image_encoder_name,
        cfg.resnet_type,
        drop_path_rate=cfg.resnet_drop_path_rate,
        layers=parse_layers(cfg.resnet_layers),
    )
    _load_local_weights(backbone, cfg.resnet_model_path)
    return backbone, nn.Linear(backbone.out_channels, embed_dim)


def build_video_modules(cfg, embed_dim: int) -> Optional[Tuple[nn.Module, nn.Linear]]:
    """Video backbone (B, 3, T, H, W) -> (B, C, t, h, w) and ``video_proj``, or None."""
    name = encoder_name(cfg.video_encoder_name)
    if name is None:
        return None

    backbone = build_video_backbone(name, layers=parse_layers(cfg.video_layers))
    _load_local_weights(backbone, cfg.video_model_path)
    return backbone, nn.Linear(backbone.out_channels, embed_dim)


def build_audio_modules(cfg, embed_dim: int) -> Optional[Tuple[nn.Module, nn.Linear]]:
    """PANN backbone (B, S) -> (B, C, T', F') and ``audio_proj``, or None.

    (The model keeps its log-mel front end frozen, as the original code does.)
    """
    name = encoder_name(cfg.audio_encoder_name)
    if name is None:
        return None

    backbone = build_audio_backbone(
        name,
        hop_size=cfg.hop_size,
        mel_bins=cfg.mel_bins,
        spec_augment=not getattr(cfg, "no_audio_spec_augment", False),
        **AUDIO_FRONTEND,
    )
    _load_local_weights(backbone, cfg.audio_model_path)
    return backbone, nn.Linear(backbone.out_channels, embed_dim)


def _load_local_weights(module: nn.Module, path: Optional[str]) -> None:
    """Non-strictly load released backbone weights from a local file, if one is given."""
    if path:
        load_pretrained_backbone(module, path)
