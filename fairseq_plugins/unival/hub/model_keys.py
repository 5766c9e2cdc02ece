"""The weight names the model of a checkpoint's own config has, to check a file is complete
without loading it into a model (``unival merge`` writes checkpoints it never runs)."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping, Optional

from fairseq.models import ARCH_MODEL_REGISTRY

from unival.hub.checkpoint import build_unival_model, checkpoint_groups, model_config
from unival.hub.names import resolve_arch
from unival.models.builder import placeholder_dictionary
from unival.models.missing_weights import MissingWeightsError, rebuildable
from unival.models.unival import UnivalModel

_BACKBONE_FILES = ("resnet_model_path", "video_model_path", "audio_model_path")
_NAMES_BY_CONFIG: Dict[str, List[str]] = {}  # merges read several files of one architecture


def model_weight_names(checkpoint: Mapping[str, Any]) -> Optional[List[str]]:
    """The state-dict keys of the model ``checkpoint``'s config describes, or None when the
    file carries no UnIVAL model config. The model is built on the CPU without reading
    backbone weight files (the meta device cannot run the constructors' arithmetic)."""
    try:
        saved_model, _ = checkpoint_groups(checkpoint)
    except (ValueError, TypeError):
        return None
    arch = resolve_arch(saved_model.get("arch") or saved_model.get("_name"))
    if ARCH_MODEL_REGISTRY.get(arch) is not UnivalModel:  # not a UnIVAL model: nothing to check
        return None
    cfg = model_config(saved_model)
    cfg = dataclasses.replace(cfg, **{name: None for name in _BACKBONE_FILES if hasattr(cfg, name)})
    key = repr(cfg)
    if key not in _NAMES_BY_CONFIG:
        _NAMES_BY_CONFIG[key] = list(
            build_unival_model(cfg, placeholder_dictionary(8)).state_dict()
        )
    return _NAMES_BY_CONFIG[key]


def check_complete(checkpoint: Mapping[str, Any], weights: Mapping[str, Any], source: str) -> None:
    """Raise :class:`MissingWeightsError` when ``weights`` lack entries of the checkpoint's
    model."""
    names = model_weight_names(checkpoint)
    if names is None:
        return
    missing = [name for name in names if name not in weights and not rebuildable(name)]
    if missing:
        raise MissingWeightsError(missing, source)
