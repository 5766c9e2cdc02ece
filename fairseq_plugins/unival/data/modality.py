"""The modalities a batch row can carry, with the reference's ``patch_types`` values."""

from enum import IntEnum


class Modality(IntEnum):
    """Value stored per sample in ``patch_types`` (B,) to select the encoder adapter."""

    IMAGE = 0
    VIDEO = 1
    AUDIO = 2
