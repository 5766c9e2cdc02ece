"""Answer prefix trie: constrained training masks and trie-restricted decoding (VQA).

Every candidate answer is stored as ``[BOS] + BPE(" " + answer) + [EOS]``. Given a prefix
``[BOS, a_1, ..., a_k]`` the trie returns the token ids that may follow it; those are the only
tokens allowed at that step, for the training-time constraint masks (T, V) of a sample, for
the per-step :class:`TrieLogitMask` of beam search, and for all-candidate scoring.
"""

from __future__ import annotations

import logging
import math
from typing import Dict, Iterable, List, Optional, Sequence

import torch

logger = logging.getLogger(__name__)


class _Node:
    __slots__ = ("children", "_ids")

    def __init__(self):
        self.children: Dict[int, "_Node"] = {}
        self._ids: Optional[torch.Tensor] = None

    def child_ids(self) -> torch.Tensor:
        """(n_children,) long tensor of the allowed next tokens (cached)."""
        if self._ids is None:
            self._ids = torch.tensor(sorted(self.children), dtype=torch.long)
        return self._ids


class AnswerTrie:
    """Prefix tree over token sequences that start with ``bos`` and end with ``eos``."""

    def __init__(self, bos: int, eos: int):
        self.bos, self.eos = int(bos), int(eos)
        self.root = _Node()
        self.num_sequences = 0

    @classmethod
    def from_answers(cls, answers: Iterable[Sequence[int]], bos: int, eos: int) -> "AnswerTrie":
        """A trie over ``[bos] + answer + [eos]`` for every answer's token ids (no BOS/EOS)."""
        trie = cls(bos, eos)
        for answer in answers:
            trie.insert([trie.bos] + [int(t) for t in answer] + [trie.eos])
        return trie

    def insert(self, tokens: Sequence[int]) -> None:
        if not tokens or int(tokens[0]) != self.bos or int(tokens[-1]) != self.eos:
            raise ValueError("a trie sequence must start with BOS and end with EOS")
        node = self.root
        for token in tokens:
            token = int(token)
            if token not in node.children:
                node.children[token] = _Node()
                node._ids = None
            node = node.children[token]
        self.num_sequences += 1

    def _find(self, prefix: Sequence[int]) -> Optional[_Node]:
        node = self.root
        for token in prefix:
            node = node.children.get(int(token))
            if node is None:
                return None
        return node

    def next_tokens(self, prefix: Sequence[int]) -> List[int]:
        """Tokens that may follow ``prefix`` (which starts with BOS); [] off the trie."""
        node = self._find(prefix)
        return [] if node is None else sorted(node.children)

    def next_token_ids(self, prefix: Sequence[int]) -> torch.Tensor:
        """:meth:`next_tokens` as a cached (n,) long tensor."""
        node = self._find(prefix)
        return torch.zeros(0, dtype=torch.long) if node is None else node.child_ids()

    def contains(self, answer: Sequence[int]) -> bool:
        """Whether ``[bos] + answer + [eos]`` is a stored sequence."""
        node = self._find([self.bos] + [int(t) for t in answer])
        return node is not None and self.eos in node.children

    def allowed_rows(self, answer: Sequence[int], vocab_size: int) -> torch.Tensor:
        """(len(answer) + 1, V) bool: row k allows the children of ``[bos] + answer[:k]``."""
        answer = [int(t) for t in answer]
        rows = torch.zeros(len(answer) + 1, vocab_size, dtype=torch.bool)
        for k in range(len(answer) + 1):
            rows[k, self.next_token_ids([self.bos] + answer[:k])] = True
        return rows


def answer_constraint_mask(
    trie: AnswerTrie, target_length: int, answer: Sequence[int], vocab_size: int
) -> torch.Tensor:
    """Training-time constraint mask (T, V) bool for a target ending in ``answer + [EOS]``.

    The last ``len(answer) + 1`` rows (the answer tokens and EOS) allow the trie children of
    the answer prefix so far; every earlier row (the decoder prompt, whose targets are pad)
    is all False, as in the reference.
    """
    answer_rows = len(answer) + 1
    if target_length < answer_rows:
        raise ValueError(f"target of length {target_length} cannot hold {answer_rows} answer rows")
    mask = torch.zeros(target_length, vocab_size, dtype=torch.bool)
    mask[target_length - answer_rows :] = trie.allowed_rows(answer, vocab_size)
    return mask


class TrieLogitMask:
    """Generation mask: after ``answer_start`` decoded columns, allow only trie children.

    ``tokens`` (N, t) holds BOS plus the tokens so far; the answer begins at column
    ``answer_start`` (1 + the forced prefix length, the same for every row of a call; set it
    per call with :meth:`set_answer_start`). Before that the forced prefix is decoded and
    nothing is masked; afterwards row r allows ``trie.next_tokens([BOS] + tokens[r,
    answer_start:])``.

    With ``renormalize`` (default) the allowed entries are re-normalised to sum to one, which
    equals the reference's masking of the logits before the softmax.
    """

    def __init__(self, trie: AnswerTrie, answer_start: int = 1, renormalize: bool = True):
        self.trie = trie
        self.answer_start = int(answer_start)
        self.renormalize = renormalize

    def set_answer_start(self, answer_start: int) -> None:
        self.answer_start = int(answer_start)

    def __call__(self, tokens: torch.Tensor, lprobs: torch.Tensor) -> torch.Tensor:
        if tokens.size(1) < self.answer_start:
            return lprobs
        allowed = torch.zeros_like(lprobs, dtype=torch.bool)
        for row, answer in enumerate(tokens[:, self.answer_start :].tolist()):
            ids = self.trie.next_token_ids([self.trie.bos] + answer)
            allowed[row, ids.to(lprobs.device)] = True
        masked = lprobs.masked_fill(~allowed, -math.inf)
        if not self.renormalize:
            return masked
        norm = torch.logsumexp(masked, dim=-1, keepdim=True)
        return masked - norm.masked_fill(torch.isinf(norm), 0.0)

    def __repr__(self) -> str:
        return f"TrieLogitMask({self.trie.num_sequences} answers, answer_start={self.answer_start})"
