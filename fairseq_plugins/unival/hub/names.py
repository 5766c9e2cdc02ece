"""Official model/architecture/task names of released checkpoints -> the names registered here.

Released checkpoints store ``cfg.model._name = "unival_base"`` (rewritten by the authors'
``change_model_name.py``; there is no *model* of that name, it is an architecture of the
``unival`` model). OFA checkpoints name the ``ofa`` model and ``ofa_*`` architectures, whose
layout the ``unival_*`` architectures share (image-only). Task names of the released
checkpoints are kept as they are where the task exists here; the mapping below is where
aliases go when a name differs.
"""

from typing import Dict, Optional

#: architecture (or model) name in a checkpoint -> registered ``unival`` architecture
ARCH_ALIASES: Dict[str, str] = {
    "unival": "unival_base",
    "ofa": "unival_base",
    "ofa_tiny": "unival_tiny",
    "ofa_medium": "unival_medium",
    "ofa_base": "unival_base",
    "ofa_large": "unival_large",
    "ofa_huge": "unival_huge",
}

#: config defaults an aliased architecture implies (OFA has the 3-stage ResNet, no video)
ARCH_ALIAS_DEFAULTS: Dict[str, Dict[str, str]] = {
    name: {"image_encoder_name": "resnet", "video_encoder_name": "none"}
    for name in ARCH_ALIASES
    if name.startswith("ofa")
}

#: official task name -> registered task name (identity where the names agree)
TASK_ALIASES: Dict[str, str] = {
    "caption": "caption",
    "vqa_gen": "vqa_gen",
    "refcoco": "refcoco",
    "refcocoplus": "refcoco",
    "refcocog": "refcoco",
    "snli_ve": "snli_ve",
    "unify_task": "unify_task",
    "video_caption": "video_caption",
    "video_vqa_gen": "video_vqa_gen",
    "audio_caption": "audio_caption",
}

#: predictor method -> the task whose data pipeline and generation it uses
METHOD_TASKS: Dict[str, str] = {
    "caption": "caption",
    "vqa": "vqa_gen",
    "ground": "refcoco",
    "entail": "snli_ve",
    "caption_video": "video_caption",
    "video_qa": "video_vqa_gen",
    "caption_audio": "audio_caption",
}


def resolve_arch(name: Optional[str]) -> Optional[str]:
    """A checkpoint's ``arch``/``_name`` -> a registered architecture name (None stays None)."""
    if name is None:
        return None
    return ARCH_ALIASES.get(name, name)


def resolve_task(name: Optional[str]) -> Optional[str]:
    """An official task name -> the registered name (unknown names are returned unchanged)."""
    if name is None:
        return None
    return TASK_ALIASES.get(name, name)
