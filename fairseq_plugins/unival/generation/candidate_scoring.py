"""All-candidate scoring (``allcand``: OFA's VQA option, always used for SNLI-VE).

The encoder runs once per sample. For every candidate answer (in chunks of ``chunk_size``)
the decoder is teacher-forced on ``decoder_prompt + answer``; at the answer positions and
the final EOS the logits outside the trie children are set to -inf, log-softmaxed, and the
log-probabilities of the answer tokens and EOS are summed. The prediction of a sample is the
argmax over candidates.
"""

from __future__ import annotations

import logging
import math
from typing import Dict, Iterator, List, Sequence, Tuple

import torch
import torch.nn.functional as F

from unival.generation.trie import AnswerTrie

logger = logging.getLogger(__name__)


class CandidateSet:
    """Candidate answers (strings), their token ids (no BOS/EOS) and the trie over them."""

    def __init__(
        self, answers: Sequence[str], token_ids: Sequence[torch.Tensor], bos: int, eos: int
    ):
        if len(answers) != len(token_ids):
            raise ValueError("one token sequence per answer")
        if not answers:
            raise ValueError("the candidate answer set is empty")
        self.answers = list(answers)
        self.token_ids = [torch.as_tensor(t, dtype=torch.long) for t in token_ids]
        self.trie = AnswerTrie.from_answers(self.token_ids, bos, eos)
        self.index = {a: i for i, a in enumerate(self.answers)}
        self._rows: dict = {}
        self._layouts: dict = {}

    @classmethod
    def from_answers(cls, answers: Sequence[str], tokenizer) -> "CandidateSet":
        """Encode every answer as BPE(" " + answer) with a
        :class:`unival.tokenizer.UnivalTokenizer`."""
        token_ids = [tokenizer.encode(" " + a) for a in answers]
        empty = [a for a, t in zip(answers, token_ids) if t.numel() == 0]
        if empty:
            raise ValueError(f"candidate answers encode to no tokens: {empty[:5]}")
        return cls(answers, token_ids, tokenizer.bos, tokenizer.eos)

    def __len__(self) -> int:
        return len(self.answers)

    def chunks(self, size: int) -> Iterator[Tuple[int, int]]:
        size = max(int(size), 1)
        for start in range(0, len(self), size):
            yield start, min(start + size, len(self))

    def chunk_layout(self, start: int, end: int) -> Dict[str, torch.Tensor]:
        """The answer rows of candidates [start, end), cached: ``candidate`` (R,) index within
        the chunk, ``offset`` (R,) row within the answer, and the allowed tokens as pairs
        ``(id_rows, ids)`` (row in 0..R-1, token id)."""
        key = (start, end)
        if key not in self._layouts:
            candidate, offset, id_rows, ids = [], [], [], []
            for j, c in enumerate(range(start, end)):
                for r, allowed in enumerate(self.allowed_ids(c)):
                    id_rows.append(torch.full((allowed.numel(),), len(candidate), dtype=torch.long))
                    ids.append(allowed)
                    candidate.append(j)
                    offset.append(r)
            self._layouts[key] = {
                "candidate": torch.tensor(candidate),
                "offset": torch.tensor(offset),
                "id_rows": torch.cat(id_rows),
                "ids": torch.cat(ids),
            }
        return self._layouts[key]

    def allowed_ids(self, c: int) -> List[torch.Tensor]:
        """For candidate ``c``: the allowed next-token ids at each answer row (len + 1 rows)."""
        if c not in self._rows:
            ids = self.token_ids[c].tolist()
            self._rows[c] = [
                self.trie.next_token_ids([self.trie.bos] + ids[:k]) for k in range(len(ids) + 1)
            ]
        return self._rows[c]


def _encoder_input(net_input: dict) -> dict:
    return {k: v for k, v in net_input.items() if k != "prev_output_tokens"}


@torch.no_grad()
def score_candidates(
    model,
    net_input: dict,
    decoder_prompts: Sequence[torch.Tensor],
    candidates: CandidateSet,
    chunk_size: int = 20,
    pad: int = 1,
    eos: int = 2,
) -> torch.Tensor:
    """Summed constrained log-probabilities of every candidate: (B, C) float.

    ``decoder_prompts[b]`` is the decoder prompt of sample b (starting with BOS; e.g. BOS +
    question for the ``prev_output`` prompt type). ``model`` has ``encoder`` and ``decoder``
    (a :class:`unival.models.unival.UnivalModel`).
    """
    encoder_out = model.encoder(**_encoder_input(net_input))
    device = net_input["src_tokens"].device
    bsz = len(decoder_prompts)
    prompts = [p.to(device) for p in decoder_prompts]
    eos_item = torch.tensor([eos], device=device)
    first_rows = torch.tensor([p.numel() - 1 for p in prompts], device=device)  # (B,)
    results = []
    for start, end in candidates.chunks(chunk_size):
        k = end - start
        layout = candidates.chunk_layout(start, end)
        answers = [candidates.token_ids[c].to(device) for c in range(start, end)]
        prev = _pad([torch.cat([p, a]) for p in prompts for a in answers], pad)
        target = _pad([torch.cat([p[1:], a, eos_item]) for p in prompts for a in answers], pad)
        new_order = torch.arange(bsz, device=device).repeat_interleave(k)
        logits = model.decoder(
            prev, encoder_out=model.encoder.reorder_encoder_out(encoder_out, new_order)
        )[0]
        # answer rows of every (sample, candidate): layout rows repeated per sample
        rows_per_sample = layout["candidate"].numel()
        sample_of_row = torch.arange(bsz, device=device).repeat_interleave(rows_per_sample)
        n_idx = sample_of_row * k + layout["candidate"].to(device).repeat(bsz)
        t_idx = first_rows[sample_of_row] + layout["offset"].to(device).repeat(bsz)
        row_logits = logits[n_idx, t_idx].float()  # (B * R, V)
        allowed = torch.zeros_like(row_logits, dtype=torch.bool)
        shift = (torch.arange(bsz, device=device) * rows_per_sample).repeat_interleave(
            layout["ids"].numel()
        )
        allowed[
            layout["id_rows"].to(device).repeat(bsz) + shift, layout["ids"].to(device).repeat(bsz)
        ] = True
        lprobs = F.log_softmax(row_logits.masked_fill(~allowed, -math.inf), dim=-1)
        token_lp = lprobs.gather(-1, target[n_idx, t_idx].unsqueeze(-1)).squeeze(-1)
        sums = torch.zeros(bsz * k, device=device, dtype=token_lp.dtype).index_add_(
            0, n_idx, token_lp
        )
        results.append(sums.view(bsz, k))
    return torch.cat(results, dim=1)


def predict_candidates(
    model,
    net_input: dict,
    decoder_prompts: Sequence[torch.Tensor],
    candidates: CandidateSet,
    chunk_size: int = 20,
    pad: int = 1,
    eos: int = 2,
) -> List[str]:
    """The highest-scoring candidate answer of every sample."""
    scores = score_candidates(model, net_input, decoder_prompts, candidates, chunk_size, pad, eos)
    return [candidates.answers[i] for i in scores.argmax(dim=1).tolist()]


def _pad(items: Sequence[torch.Tensor], pad: int) -> torch.Tensor:
    out = items[0].new_full((len(items), max(t.numel() for t in items)), pad)
    for i, t in enumerate(items):
        out[i, : t.numel()] = t
    return out
