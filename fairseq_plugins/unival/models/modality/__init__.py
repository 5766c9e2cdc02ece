"""Per-modality adapters: raw media -> (B, N, D) patch embeddings + position ids + mask."""
from unival.models.modality.audio import AudioAdapter
from unival.models.modality.base import PatchAdapter, PatchEmbeddings
from unival.models.modality.batching import ADAPTERS, default_patch_types, embed_patch_batch
from unival.models.modality.image import ImageAdapter
from unival.models.modality.video import VideoAdapter

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
