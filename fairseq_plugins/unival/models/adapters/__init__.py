"""Per-modality adapters: raw media -> (B, N, D) patch embeddings + position ids + mask."""

from unival.models.adapters.audio import AudioAdapter
from unival.models.adapters.base import PatchAdapter, PatchEmbeddings
from unival.models.adapters.batching import ADAPTERS, default_patch_types, embed_patch_batch
from unival.models.adapters.image import ImageAdapter
from unival.models.adapters.video import VideoAdapter

__all__ = [
    "ADAPTERS",
    "AudioAdapter",
    "ImageAdapter",
    "PatchAdapter",
    "PatchEmbeddings",
    "VideoAdapter",
    "default_patch_types",
    "embed_patch_batch",
]
