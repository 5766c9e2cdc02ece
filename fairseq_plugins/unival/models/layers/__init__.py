"""Transformer building blocks: biased attention, encoder/decoder layers, position tables."""

from unival.models.layers.attention import BiasedMultiheadAttention
from unival.models.layers.decoder_layer import UnivalDecoderLayer
from unival.models.layers.drop_path import DropPath, drop_path_rates
from unival.models.layers.encoder_layer import UnivalEncoderLayer

__all__ = [
    "BiasedMultiheadAttention",
    "DropPath",
    "UnivalDecoderLayer",
    "UnivalEncoderLayer",
    "drop_path_rates",
]
