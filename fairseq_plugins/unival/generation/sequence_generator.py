"""fairseq's beam search with the two things UnIVAL needs on top: BOS start and logit masks.

* Decoding starts from ``<s>`` (UnIVAL's ``prev_output_tokens`` begin with BOS), not fairseq's EOS.
* Every step's log-probabilities pass through the given :mod:`unival.generation.logit_masks`
  before the search (constraint range now; the VQA answer trie later).

fairseq's generator already stops at ``max_len`` by forcing EOS, which is the reference's
``stop_on_max_len`` behaviour, so that flag needs no code here.
"""

import logging
from typing import Dict, List, Optional, Sequence

import torch
from fairseq.sequence_generator import EnsembleModel, SequenceGenerator
from torch import Tensor

from unival.generation.logit_masks import LogitMask

logger = logging.getLogger(__name__)


class MaskedEnsembleModel(EnsembleModel):
    """fairseq's ensemble wrapper whose next-token log-probabilities go through ``masks``."""

    def __init__(self, models, masks: Sequence[LogitMask] = ()):
        super().__init__(models)
        self.masks = list(masks)

    def forward_decoder(
        self,
        tokens: Tensor,
        encoder_outs: List[Dict[str, List[Tensor]]],
        incremental_states: List[Dict[str, Dict[str, Optional[Tensor]]]],
        temperature: float = 1.0,
    ):
        """tokens (N, t) -> (lprobs (N, V) masked, attention or None)."""
        lprobs, attn = super().forward_decoder(
            tokens, encoder_outs, incremental_states, temperature
        )
        for mask in self.masks:
            lprobs = mask(tokens, lprobs)
        return lprobs, attn


class UnivalSequenceGenerator(SequenceGenerator):
    """``SequenceGenerator(models, tgt_dict, **fairseq_kwargs, logit_masks=[...])`` starting
    from BOS."""

    def __init__(self, models, tgt_dict, logit_masks: Sequence[LogitMask] = (), **kwargs):
        if isinstance(models, EnsembleModel):
            raise TypeError(
                "pass the list of models; UnivalSequenceGenerator builds its own ensemble"
            )
        super().__init__(MaskedEnsembleModel(models, logit_masks), tgt_dict, **kwargs)
        self.bos = tgt_dict.bos()

    @torch.no_grad()
    def generate(self, models, sample: Dict[str, Dict[str, Tensor]], **kwargs):
        """Hypotheses per sentence (fairseq format); ``bos_token`` defaults to ``<s>``."""
        if kwargs.get("bos_token") is None:
            kwargs["bos_token"] = self.bos
        return self._generate(sample, **kwargs)
