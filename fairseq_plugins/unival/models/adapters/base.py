"""The interface every media modality implements: raw input -> patch embeddings.

An adapter owns no parameters. The encoder owns the backbone, the projection and the
position table under their official state-dict names (``embed_images``, ``image_proj``,
``embed_image_positions``, ...); the adapter looks them up on the encoder by name, so the
state dict has no extra keys and copies of the encoder (EMA, deepcopy) stay consistent.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from unival.data.modality import Modality
from unival.models.adapters.repeated_media import (
    batch_norm_statistics_as_if_repeated,
    distinct_media,
)
from unival.models.perf import fast_paths_enabled


@dataclass
class PatchEmbeddings:
    """Patch tokens of one batch (or sub-batch).

    embeds: (B, N, D) projected patch features (before type embedding and LayerNorm).
    position_ids: (B, N) int64 ids on the shared grid (0 for padding slots).
    padding_mask: (B, N) bool, True = padding.
    position_embeds: (B, N, D) raw rows of the modality's position table.
    """

    embeds: Tensor
    position_ids: Tensor
    padding_mask: Tensor
    position_embeds: Tensor

    @property
    def num_patches(self) -> int:
        return self.embeds.size(1)


class PatchAdapter:
    """Turns a modality's raw input into :class:`PatchEmbeddings`.

    Subclasses set :attr:`modality` and the encoder attribute names, and implement
    :meth:`grid_ids` (position ids of the backbone's output grid).
    """

    modality: Modality
    backbone_name: str
    proj_name: str
    positions_name: str
    #: whether repeated inputs in a batch may share one backbone pass (:func:`distinct_media`);
    #: False where the backbone draws per-sample randomness that no flag shows (SpecAugment)
    shares_repeated_media: bool = False
    #: layout the backbone's convolutions run fastest in on the CPU (oneDNN), or None; the
    #: input alone is laid out so, and every layer after it keeps that layout
    cpu_memory_format: Optional[torch.memory_format] = None

    def is_built(self, encoder: nn.Module) -> bool:
        """Whether the encoder has this modality's modules."""
        return getattr(encoder, self.backbone_name, None) is not None

    def features(self, encoder: nn.Module, media: Tensor) -> Tensor:
        """Backbone output (B, C, *grid).

        A batch often holds the same picture several times (pretraining pairs each image-text
        row with a negative of the same image; VQA asks several questions about one image).
        On the fast path the backbone then runs on fewer copies (once per distinct picture in
        eval mode, count / g copies in training) and the features are indexed back, which
        autograd turns into summed gradients: the same result as running every copy (see
        :func:`distinct_media`).
        """
        backbone = getattr(encoder, self.backbone_name)
        if self.shares_repeated_media and fast_paths_enabled():
            fewer = distinct_media(media, backbone)
            if fewer is not None:
                rows, inverse = fewer
                # in training R divides B (R = B / g); in eval mode no statistics are kept
                with batch_norm_statistics_as_if_repeated(backbone, media.size(0) // rows.size(0)):
                    feats = backbone(self.laid_out(rows))
                # index_select, not indexing: the latter's backward adds a picture's copies by
                # atomic adds on the CPU, in an order that changes from run to run
                return feats.index_select(0, inverse)
        return backbone(self.laid_out(media))

    def laid_out(self, media: Tensor) -> Tensor:
        """``media`` in :attr:`cpu_memory_format` on the CPU on the fast path, else unchanged.

        Same values, other strides: oneDNN's convolutions, batch norm and pooling then skip
        their per-call layout conversions. Measured on the image ResNet: inference at 480 px
        1.09-1.10x, forward + backward 1.07-1.23x at 64-480 px; the demo's video ResNeXt
        1.15x. Training results differ from the contiguous layout's in rounding only. Not on
        CUDA, where it was not measured.
        """
        if self.cpu_memory_format is None or media.device.type != "cpu" or not fast_paths_enabled():
            return media
        return media.contiguous(memory_format=self.cpu_memory_format)

    def grid_ids(self, grid: Tuple[int, ...], grid_size: int) -> Tensor:
        """Position ids (N,) of the flattened backbone grid ``grid``."""
        raise NotImplementedError

    def __call__(
        self,
        encoder: nn.Module,
        media: Tensor,
        grid_size: int,
        sample_patch_num: Optional[int] = None,
    ) -> PatchEmbeddings:
        """Embed ``media`` (B, ...) into patch tokens.

        ``sample_patch_num`` k < N keeps a uniformly random subset of k patches per
        sample (with their position ids); the encoder passes it only in training.
        """
        feats = self.features(encoder, media)
        bsz = feats.size(0)
        ids = self.grid_ids(tuple(feats.shape[2:]), grid_size).to(feats.device)
        tokens = feats.flatten(2).transpose(1, 2)  # (B, N, C)
        ids = ids.unsqueeze(0).expand(bsz, -1)
        if sample_patch_num is not None and sample_patch_num < tokens.size(1):
            keep = torch.rand(bsz, tokens.size(1), device=feats.device).argsort(dim=1)
            keep = keep[:, :sample_patch_num]
            tokens = tokens.gather(1, keep.unsqueeze(2).expand(-1, -1, tokens.size(2)))
            ids = ids.gather(1, keep)
        proj = getattr(encoder, self.proj_name)
        embeds = proj(tokens.to(proj.weight.dtype))
        position_embeds = getattr(encoder, self.positions_name)(ids)
        padding = torch.zeros(ids.shape, dtype=torch.bool, device=ids.device)
        return PatchEmbeddings(embeds, ids, padding, position_embeds)
