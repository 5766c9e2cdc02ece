"""What the self-critical (SCST) criterions share: generate, re-batch, teacher-force, weight.

* :class:`ScstGenerators` builds (once per model) the task's generator from ``--scst-args``
  (JSON, e.g. ``{"beam":5,"max_len_b":16}`` or ``{"sampling":true,"beam":5,"sampling_topk":5}``:
  ``beam`` is then the number of samples per input) and runs it in eval mode without gradient.
* :func:`generated_batch` turns generated token lists into teacher-forcing tensors:
  prev_output_tokens = [BOS] + seq[:-1], target = seq, right-padded with ``<pad>``.
* :func:`expand_net_input` repeats every per-row tensor of a batch's ``net_input`` k times
  (row i -> rows i*k .. i*k+k-1) and puts the generated prev_output_tokens in.
* :func:`policy_gradient_loss`: -sum_t lp(g_t) * w over non-pad positions, w one weight per row.
"""

import json
from argparse import Namespace
from typing import Dict, List, Optional, Sequence, Tuple

import torch


class ScstGenerators:
    """The task's sequence generators for SCST, cached per model and generation arguments."""

    def __init__(self, task, scst_args: str):
        self.task = task
        try:
            self.args: Dict = json.loads(scst_args or "{}")
        except json.JSONDecodeError as error:
            raise ValueError(
                f"--scst-args must be a JSON object, got {scst_args!r}: {error}"
            ) from error
        if not isinstance(self.args, dict):
            raise ValueError(f"--scst-args must be a JSON object, got {scst_args!r}")
        self._cache: Dict[Tuple[int, str], object] = {}

    def generator(self, model, greedy: bool = False):
        """The ``--scst-args`` generator, or with ``greedy`` the same settings with beam 1 and no
        sampling."""
        args = dict(self.args)
        if greedy:
            args.update(beam=1, sampling=False)
        key = (id(model), json.dumps(args, sort_keys=True))
        if key not in self._cache:
            self._cache = {k: v for k, v in self._cache.items() if k[0] == id(model)}
            self._cache[key] = self.task.build_generator([model], Namespace(**args))
        return self._cache[key]

    def generate(self, model, sample, greedy: bool = False) -> List[List[torch.Tensor]]:
        """Per row, every returned hypothesis's tokens (best first), generated in eval mode,
        no gradient."""
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                hypos = self.task.inference_step(self.generator(model, greedy), [model], sample)
        finally:
            model.train(was_training)
        return [[h["tokens"] for h in row] for row in hypos]


def strip_trailing_eos(tokens: torch.Tensor, eos: int) -> torch.Tensor:
    """``tokens`` without a final EOS (1-D)."""
    return tokens[:-1] if tokens.numel() > 0 and int(tokens[-1]) == eos else tokens


def generated_batch(
    seqs: Sequence[torch.Tensor], bos: int, pad: int, device=None
) -> Tuple[torch.Tensor, torch.Tensor]:
    """(prev_output_tokens, target), both (N, T_max) int64: [BOS] + seq[:-1] and seq,
    right-padded."""
    if not seqs:
        raise ValueError("no generated sequence to train on")
    width = max(max(int(s.numel()) for s in seqs), 1)
    prev = torch.full((len(seqs), width), pad, dtype=torch.long)
    target = torch.full((len(seqs), width), pad, dtype=torch.long)
    for i, seq in enumerate(seqs):
        seq = seq.long().cpu()
        n = seq.numel()
        if n == 0:
            continue
        target[i, :n] = seq
        prev[i, 0] = bos
        prev[i, 1:n] = seq[:-1]
    return prev.to(device), target.to(device)


def expand_net_input(
    net_input: Dict, batch_size: int, k: int, prev_output_tokens: torch.Tensor
) -> Dict:
    """A copy of ``net_input`` with each per-row tensor repeated k times and the new decoder
    input."""
    out = {}
    for key, value in net_input.items():
        if key == "prev_output_tokens":
            continue
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.size(0) == batch_size:
            value = torch.repeat_interleave(value, k, dim=0)
        out[key] = value
    out["prev_output_tokens"] = prev_output_tokens
    return out


def policy_gradient_loss(
    lprobs: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, pad: Optional[int]
) -> Tuple[torch.Tensor, int]:
    """(-sum over non-pad (i, t) of lprobs[i, t, target[i, t]] * weights[i],
    number of non-pad tokens).

    lprobs (N, T, V), target (N, T), weights (N,) (a float is broadcast).
    """
    picked = lprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    weights = torch.as_tensor(weights, dtype=picked.dtype, device=picked.device)
    loss = -picked * (weights.unsqueeze(-1) if weights.dim() == 1 else weights)
    if pad is None:
        return loss.sum(), target.numel()
    keep = target.ne(pad)
    return loss.masked_fill(~keep, 0.0).sum(), int(keep.sum())
