"""CNN backbones of UnIVAL (image, video, audio), with reference-compatible parameter names.

Builders (the only entry points the model code needs):

* :func:`build_image_backbone` - ``timm_resnet`` (4 stages, 2048 ch, stride 32, unused
  ``fc``) or ``resnet`` (OFA 3 stages, 1024 ch, stride 16).
* :func:`build_video_backbone` - ResNeXt-3D, ``[all_]resnext{50,101,152}``.
* :func:`build_audio_backbone` - PANN ``pann_cnn6`` / ``pann_cnn10`` / ``pann_cnn14``.
* :func:`load_pretrained_backbone` - non-strict load of a released backbone file.

Every returned module has an ``out_channels`` attribute (int).
"""

import logging
from typing import Optional, Sequence

from torch import nn

from unival.safe_load.checkpoint import safe_torch_load

from .ofa_resnet import OfaResNet, build_ofa_resnet
from .pann import PANN_CHANNELS, PannEncoder
from .resnet import TimmResNet, build_timm_resnet
from .resnext3d import ResNeXt3D, build_resnext3d

logger = logging.getLogger(__name__)

__all__ = [
    "build_image_backbone",
    "build_video_backbone",
    "build_audio_backbone",
    "load_pretrained_backbone",
    "TimmResNet",
    "OfaResNet",
    "ResNeXt3D",
    "PannEncoder",
]

_WRAPPER_KEYS = ("state_dict", "model")
_KEY_PREFIXES = ("module.", "model.", "sed_model.", "audio_branch.")


def build_image_backbone(
    name: str, resnet_type: str, drop_path_rate: float = 0.0, layers: Optional[Sequence[int]] = None
) -> nn.Module:
    """x (B, 3, H, W) -> (B, C, H/stride, W/stride).

    ``name`` "timm_resnet": C=2048, stride 32; "resnet": OFA-style, C=1024, stride 16.
    ``resnet_type`` resnet50/101/152; ``layers`` overrides the per-stage block counts.
    """
    if name == "timm_resnet":
        return build_timm_resnet(resnet_type, drop_path_rate, layers)
    if name == "resnet":
        return build_ofa_resnet(resnet_type, drop_path_rate, layers)
    raise ValueError(f"unknown image encoder {name!r}; expected 'timm_resnet' or 'resnet'")


def build_video_backbone(name: str, layers: Optional[Sequence[int]] = None) -> nn.Module:
    """x (B, 3, T, H, W) -> (B, C, t, h, w); C=1024 (``resnextN``) or 2048 (``all_resnextN``)."""
    return build_resnext3d(name, layers)


def build_audio_backbone(
    name: str,
    sample_rate: int = 48000,
    window_size: int = 1024,
    hop_size: int = 200,
    mel_bins: int = 64,
    fmin: int = 50,
    fmax: int = 14000,
    spec_augment: bool = True,
) -> nn.Module:
    """waveform (B, S) -> (B, C, T', F'); C = 512 / 1024 / 2048 for cnn6 / cnn10 / cnn14."""
    if name not in PANN_CHANNELS:
        raise ValueError(f"unknown audio encoder {name!r}; expected {sorted(PANN_CHANNELS)}")
    return PannEncoder(
        name,
        sample_rate=sample_rate,
        window_size=window_size,
        hop_size=hop_size,
        mel_bins=mel_bins,
        fmin=fmin,
        fmax=fmax,
        spec_augment=spec_augment,
    )


def _unwrap_state_dict(obj) -> dict:
    """Descend into ``{"state_dict": ...}`` / ``{"model": ...}`` wrappers."""
    while isinstance(obj, dict):
        inner = next((obj[k] for k in _WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, dict):
        raise TypeError(f"expected a state dict, got {type(obj).__name__}")
    return obj


def _strip_prefixes(key: str) -> str:
    stripped = True
    while stripped:
        stripped = False
        for prefix in _KEY_PREFIXES:
            if key.startswith(prefix):
                key, stripped = key[len(prefix) :], True
    return key


def clean_backbone_state_dict(module: nn.Module, raw: dict) -> tuple:
    """Strip wrapper prefixes, drop mel-dependent keys when needed and shape mismatches.

    Returns (state_dict, dropped_keys). For a PANN encoder with ``mel_bins != 64`` the
    ``logmel_extractor`` and ``bn0`` entries (made for 64 bins) are dropped.
    """
    state = {_strip_prefixes(k): v for k, v in _unwrap_state_dict(raw).items()}
    dropped = []
    if isinstance(module, PannEncoder) and module.mel_bins != 64:
        dropped += [k for k in state if k.startswith(("logmel_extractor.", "bn0."))]
    own = module.state_dict()
    for key, value in state.items():
        if key in own and key not in dropped and tuple(own[key].shape) != tuple(value.shape):
            logger.warning(
                "pretrained %s has shape %s, the module wants %s: skipped",
                key,
                tuple(value.shape),
                tuple(own[key].shape),
            )
            dropped.append(key)
    for key in dropped:
        state.pop(key)
    return state, dropped


def load_pretrained_backbone(module: nn.Module, path: str, trusted: bool = False) -> tuple:
    """Non-strict load of a released backbone file into ``module``.

    Handles ``state_dict``/``model`` wrappers and ``module.``/``model.`` key prefixes.
    Returns (missing, unexpected) key lists (keys skipped for shape or mel-bin reasons
    count as missing) and logs them. Raises ValueError when no tensor of the file fits the module.
    """
    raw = safe_torch_load(path, map_location="cpu", trusted=trusted)
    state, dropped = clean_backbone_state_dict(module, raw)
    own = module.state_dict()
    if not any(key in own for key in state):
        # a non-strict load would silently keep the random weights: most likely the wrong file
        raise ValueError(
            f"{path}: none of its {len(state)} tensors matches a parameter of the "
            f"{type(module).__name__} backbone (e.g. {sorted(state)[:3]}); is it the "
            "weights file of this encoder?"
        )
    result = module.load_state_dict(state, strict=False)
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    logger.info(
        "loaded backbone weights from %s: %d tensors, %d missing, %d unexpected",
        path,
        len(state),
        len(missing),
        len(unexpected),
    )
    if missing:
        logger.info("missing keys: %s", missing)
    if unexpected:
        logger.info("unexpected keys: %s", unexpected)
    if dropped:
        logger.info("dropped keys: %s", dropped)
    return missing, unexpected
