"""Image adapter: (B, 3, H, W) -> ResNet map (B, C, h, w) -> h*w patch tokens."""

from typing import Tuple

import torch
from torch import Tensor

from unival.data.modality import Modality
from unival.models.adapters.base import PatchAdapter
from unival.models.layers.position_buckets import grid_position_ids


class ImageAdapter(PatchAdapter):
    """Row-major ids of the h x w feature grid."""

    modality = Modality.IMAGE
    backbone_name = "embed_images"
    proj_name = "image_proj"
    positions_name = "embed_image_positions"
    shares_repeated_media = True
    cpu_memory_format = torch.channels_last

    def grid_ids(self, grid: Tuple[int, ...], grid_size: int) -> Tensor:
        height, width = grid
        return grid_position_ids(height, width, grid_size)
