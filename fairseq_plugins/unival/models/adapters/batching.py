"""Encode a batch whose rows may carry different modalities.

Each row is encoded by the adapter of ITS OWN ``patch_types`` value from its own media
tensor; rows of different modalities are scattered back in batch order and padded to
the longest patch sequence (padding slots: mask True, position id 0, zero vectors).
"""

from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn

from unival.data.modality import Modality
from unival.models.adapters.audio import AudioAdapter
from unival.models.adapters.base import PatchAdapter, PatchEmbeddings
from unival.models.adapters.image import ImageAdapter
from unival.models.adapters.video import VideoAdapter

ADAPTERS: Dict[Modality, PatchAdapter] = {
    Modality.IMAGE: ImageAdapter(),
    Modality.VIDEO: VideoAdapter(),
    Modality.AUDIO: AudioAdapter(),
}


def default_patch_types(media: Dict[Modality, Optional[Tensor]]) -> Modality:
    """Modality of a batch without ``patch_types``: images first, then video, then audio."""
    for modality in (Modality.IMAGE, Modality.VIDEO, Modality.AUDIO):
        if media.get(modality) is not None:
            return modality
    raise ValueError("no media tensor given")


def embed_patch_batch(
    encoder: nn.Module,
    patch_types: Tensor,
    media: Dict[Modality, Optional[Tensor]],
    grid_size: int,
    sample_patch_nums: Dict[Modality, Optional[int]],
) -> PatchEmbeddings:
    """Patch tokens (B, N, D) of a batch with per-row ``patch_types`` (B,).

    ``media[m]`` is the full-batch input of modality m (``patch_images`` (B, 3, H, W),
    ``patch_videos`` (B, 3, T, H, W), ``patch_audios`` (B, S)); only rows of type m are read.
    """
    known = torch.tensor([int(m) for m in ADAPTERS], device=patch_types.device)
    if not torch.isin(patch_types, known).all():
        raise ValueError(f"unknown patch_types {patch_types.unique().tolist()}")
    parts: List[Tuple[Tensor, PatchEmbeddings]] = []
    for modality, adapter in ADAPTERS.items():
        rows = (patch_types == int(modality)).nonzero(as_tuple=True)[0]
        if rows.numel() == 0:
            continue
        inputs = media.get(modality)
        if inputs is None:
            raise ValueError(f"batch has {modality.name} rows but no {modality.name} input")
        if not adapter.is_built(encoder):
            raise ValueError(
                f"batch has {modality.name} rows but the model has no "
                f"{modality.name} encoder (set its *_encoder_name)"
            )
        if rows.numel() == patch_types.numel():
            return adapter(encoder, inputs, grid_size, sample_patch_nums.get(modality))
        sub = adapter(
            encoder, inputs.index_select(0, rows), grid_size, sample_patch_nums.get(modality)
        )
        parts.append((rows, sub))
    return _scatter_rows(parts, patch_types.numel())


def _scatter_rows(parts: List[Tuple[Tensor, PatchEmbeddings]], bsz: int) -> PatchEmbeddings:
    """Place each sub-batch's rows at their batch indices, padding to the longest."""
    length = max(sub.num_patches for _, sub in parts)
    first = parts[0][1]
    dim, device = first.embeds.size(2), first.embeds.device
    embeds = first.embeds.new_zeros(bsz, length, dim)
    position_embeds = first.position_embeds.new_zeros(bsz, length, dim)
    position_ids = torch.zeros(bsz, length, dtype=torch.long, device=device)
    padding = torch.ones(bsz, length, dtype=torch.bool, device=device)
    for rows, sub in parts:
        n = sub.num_patches
        embeds[rows, :n] = sub.embeds.to(embeds.dtype)
        position_embeds[rows, :n] = sub.position_embeds.to(position_embeds.dtype)
        position_ids[rows, :n] = sub.position_ids
        padding[rows, :n] = sub.padding_mask
    return PatchEmbeddings(embeds, position_ids, padding, position_embeds)
