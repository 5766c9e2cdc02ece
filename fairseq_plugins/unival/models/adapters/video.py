"""Video adapter: (B, 3, T, H, W) -> 3-D ResNeXt map (B, C, t, h, w) -> t*h*w tokens.

Tokens are flattened t-major; every time slice reuses the h x w grid ids (no temporal
position embedding), as in the original model.
"""

from typing import Tuple

import torch
from torch import Tensor

from unival.data.modality import Modality
from unival.models.adapters.base import PatchAdapter
from unival.models.layers.position_buckets import grid_position_ids


class VideoAdapter(PatchAdapter):
    """Grid ids repeated for each of the t output frames."""

    modality = Modality.VIDEO
    backbone_name = "embed_videos"
    proj_name = "video_proj"
    positions_name = "embed_video_positions"
    shares_repeated_media = True
    cpu_memory_format = torch.channels_last_3d

    def grid_ids(self, grid: Tuple[int, ...], grid_size: int) -> Tensor:
        frames, height, width = grid
        return grid_position_ids(height, width, grid_size).repeat(frames)
