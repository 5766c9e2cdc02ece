"""Build a UnIVAL model without a data directory or a fairseq task."""

import argparse
from types import SimpleNamespace
from typing import Optional

from fairseq.data import Dictionary
from fairseq.models import ARCH_CONFIG_REGISTRY, ARCH_MODEL_NAME_REGISTRY

from unival.models.config import UnivalConfig
from unival.models.unival import UnivalModel


def placeholder_dictionary(vocab_size: int) -> Dictionary:
    """A fairseq Dictionary of ``vocab_size`` entries: ``<s> <pad> </s> <unk>`` at 0..3,
    then placeholder symbols ``<tok_4>``, ``<tok_5>``, ..."""
    dictionary = Dictionary()
    if vocab_size < len(dictionary):
        raise ValueError(f"vocab_size must be at least {len(dictionary)} (the specials)")
    for index in range(len(dictionary), vocab_size):
        dictionary.add_symbol(f"<tok_{index}>")
    return dictionary


def build_model(
    arch: str, vocab_size: int, dictionary: Optional[Dictionary] = None, **overrides
) -> UnivalModel:
    """Build the ``arch`` model (``unival_tiny``, ``unival_base``, ...) for a vocabulary.

    ``overrides`` are UnivalConfig fields (e.g. ``audio_encoder_name="pann_cnn14"``); they
    win over the architecture, which wins over the dataclass defaults — the same order as
    fairseq's command line. ``dictionary`` (optional, ``vocab_size`` entries) replaces the
    placeholder dictionary. Returns the model in train mode, as fairseq builds it.
    """
    if ARCH_MODEL_NAME_REGISTRY.get(arch) != "unival":
        raise ValueError(f"unknown UnIVAL architecture {arch!r}")
    unknown = sorted(set(overrides) - set(UnivalConfig.__dataclass_fields__))
    if unknown:
        raise ValueError(f"unknown model options: {unknown}")
    if dictionary is None:
        dictionary = placeholder_dictionary(vocab_size)
    elif len(dictionary) != vocab_size:
        raise ValueError(f"dictionary has {len(dictionary)} entries, not {vocab_size}")
    args = argparse.Namespace(**overrides)
    ARCH_CONFIG_REGISTRY[arch](args)
    cfg = UnivalConfig.from_namespace(args)
    cfg._name = arch
    task = SimpleNamespace(source_dictionary=dictionary, target_dictionary=dictionary)
    return UnivalModel.build_model(cfg, task)
