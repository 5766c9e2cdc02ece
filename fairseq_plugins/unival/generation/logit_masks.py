"""Per-step masks on the next-token log-probabilities during generation.

A mask is any callable ``mask(tokens, lprobs) -> lprobs`` where ``tokens`` (N, t) holds the
tokens decoded so far for each of the N = batch x beam rows (column 0 is the BOS) and
``lprobs`` (N, V) the next-token log-probabilities; disallowed entries become ``-inf``.
Stateless masks (:class:`ConstraintRangeMask`) ignore ``tokens``; prefix-dependent ones
(the VQA answer trie) read them, so both fit the same slot of the generator.
"""

import logging
import math
from typing import Dict, Optional, Protocol, Tuple

import torch

logger = logging.getLogger(__name__)

NUM_SPECIAL_TOKENS = 4  # <s> <pad> </s> <unk>


class LogitMask(Protocol):
    def __call__(self, tokens: torch.Tensor, lprobs: torch.Tensor) -> torch.Tensor: ...


class ConstraintRangeMask:
    """Allow only ids 0..3 and [start, end) (OFA's ``--constraint-range``); rows are not
    renormalised."""

    def __init__(self, start: int, end: int):
        if not NUM_SPECIAL_TOKENS <= start < end:
            raise ValueError(
                f"constraint range needs {NUM_SPECIAL_TOKENS} <= start < end, got ({start}, {end})"
            )
        self.start, self.end = start, end
        self._blocked: Dict[Tuple[torch.device, int], torch.Tensor] = {}

    def blocked(self, vocab_size: int, device: torch.device) -> torch.Tensor:
        """(V,) bool: True for ids outside the allowed set."""
        key = (device, vocab_size)
        if key not in self._blocked:
            mask = torch.ones(vocab_size, dtype=torch.bool, device=device)
            mask[:NUM_SPECIAL_TOKENS] = False
            mask[self.start : self.end] = False
            self._blocked[key] = mask
        return self._blocked[key]

    def __call__(self, tokens: torch.Tensor, lprobs: torch.Tensor) -> torch.Tensor:
        return lprobs.masked_fill(self.blocked(lprobs.size(-1), lprobs.device), -math.inf)

    def __repr__(self) -> str:
        return f"ConstraintRangeMask({self.start}, {self.end})"


TEXT_RANGE = "text"
FIRST_NON_TEXT_TOKENS = ("<code_0>", "<bin_0>")  # the unified dictionary appends codes, then bins


def text_token_range(dictionary) -> Tuple[int, int]:
    """(4, end): the text tokens of a unified dictionary, up to the first <code_i> / <bin_i> (whole
    vocabulary when it has neither) without the filler symbols (:func:`is_filler`) before it."""
    firsts = [dictionary.indices[t] for t in FIRST_NON_TEXT_TOKENS if t in dictionary.indices]
    end = min(firsts, default=len(dictionary))
    while end > NUM_SPECIAL_TOKENS + 1 and is_filler(dictionary[end - 1]):
        end -= 1
    return NUM_SPECIAL_TOKENS, end


def is_filler(symbol: str) -> bool:
    """fairseq's padding symbols (dictionary size rounded up) and BART's ``<mask>``: never
    a word."""
    return symbol.startswith("madeupword") or symbol == "<mask>"


def parse_constraint_range(value: Optional[str], dictionary=None) -> Optional[Tuple[int, int]]:
    """``"58457,59457"`` -> (58457, 59457); ``"text"`` -> :func:`text_token_range` of
    ``dictionary`` (captions: no image-code or location token); None or "" -> None."""
    if value is None or str(value).strip() == "":
        return None
    if str(value).strip() == TEXT_RANGE:
        if dictionary is None:
            raise ValueError("constraint_range 'text' needs the task's dictionary")
        return text_token_range(dictionary)
    parts = str(value).split(",")
    if len(parts) != 2:
        raise ValueError(f"constraint_range must be 'start,end', got {value!r}")
    start, end = int(parts[0]), int(parts[1])
    if not NUM_SPECIAL_TOKENS <= start < end:
        raise ValueError(
            f"constraint_range needs {NUM_SPECIAL_TOKENS} <= start < end, got {value!r}"
        )
    return start, end
