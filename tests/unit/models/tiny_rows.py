"""Random text rows for ``unival_tiny`` (vocabulary 60) that a test adds its media to."""

from typing import Dict, Tuple

import torch
from torch import Tensor

VOCAB = 60
SRC_LEN, PREV_LEN = 6, 5


def text_rows(rows: int, gen: torch.Generator) -> Tuple[Dict[str, Tensor], Tensor]:
    """(net_input with src_tokens (rows, 6), src_lengths and patch_masks, prev_output_tokens
    (rows, 5) starting with <s>), drawn from ``gen``."""
    src = torch.randint(4, VOCAB, (rows, SRC_LEN), generator=gen)
    prev = torch.randint(4, VOCAB, (rows, PREV_LEN), generator=gen)
    prev[:, 0] = 0
    net_input = {
        "src_tokens": src,
        "src_lengths": torch.full((rows,), SRC_LEN),
        "patch_masks": torch.ones(rows, dtype=torch.bool),
    }
    return net_input, prev
