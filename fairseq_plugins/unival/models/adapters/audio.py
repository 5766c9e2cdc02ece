"""Audio adapter: waveform (B, S) -> PANN map (B, C, T', F') -> T'*F' tokens.

Tokens are flattened time-major. Their ids lay them out row by row on an s x s grid with
s = ceil(sqrt(N)), truncated to the first N ids (not on the (T', F') grid).
"""

import math
from typing import Tuple

from torch import Tensor

from unival.data.modality import Modality
from unival.models.adapters.base import PatchAdapter
from unival.models.layers.position_buckets import grid_position_ids


class AudioAdapter(PatchAdapter):
    """Square-grid ids for the flattened spectrogram feature map."""

    modality = Modality.AUDIO
    backbone_name = "embed_audios"
    proj_name = "audio_proj"
    positions_name = "embed_audio_positions"

    def grid_ids(self, grid: Tuple[int, ...], grid_size: int) -> Tensor:
        num = math.prod(grid)
        side = math.ceil(math.sqrt(num))
        if side > grid_size:
            raise ValueError(
                f"{num} audio tokens need a {side}x{side} grid, larger than {grid_size}"
            )
        return grid_position_ids(side, side, grid_size)[:num]
