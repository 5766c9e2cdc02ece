"""Rewards and baselines for reinforcement fine-tuning (SCST), as pure functions.

* :func:`cider_rewards`: CIDEr-D of each sampled caption against its image's references,
  scored one caption at a time with fixed corpus statistics
  (:class:`unival.metrics.caption.CiderDocumentFrequency`).
* :func:`leave_one_out_baseline`: for k samples of one input, the baseline of sample j is the
  mean reward of the *other* k - 1 samples (OFA's caption SCST does the same).
* :func:`mention_counts`: for each caption, the distinct objects it mentions that its image's
  ground truth lacks (CHAIR's hallucinated mentions,
  :func:`unival.metrics.chair.caption_hallucinations`) and that it holds, for a reward
  r = CIDEr-D - lambda * hallucinated + mu * correct.
* :func:`grounding_rewards`: as the RefCOCO RL criterion, the Acc@thresh indicator of each
  predicted box (or its IoU), times the area filter on the ground-truth box, with optional
  values replacing 1 and 0.
"""

from __future__ import annotations

from typing import Collection, Optional, Sequence, Tuple

import torch

from unival.metrics.caption import CiderDocumentFrequency, cider_sentence, simple_tokenize
from unival.metrics.chair import caption_hallucinations
from unival.metrics.grounding import area_filter, box_area, box_iou, grounding_hits
from unival.metrics.object_vocab import ObjectVocabulary


def cider_rewards(
    hyps: Sequence[str], refs_per_hyp: Sequence[Sequence[str]], stats: CiderDocumentFrequency
) -> torch.Tensor:
    """(N,) float64 CIDEr-D of ``hyps[i]`` against ``refs_per_hyp[i]`` (both lowercased,
    punctuation-free)."""
    if len(hyps) != len(refs_per_hyp):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs_per_hyp)} reference lists")
    scores = []
    for hyp, refs in zip(hyps, refs_per_hyp):
        if not refs:
            raise ValueError(f"hypothesis {hyp!r} has no reference to be scored against")
        scores.append(
            cider_sentence(simple_tokenize(hyp), [simple_tokenize(r) for r in refs], stats)
        )
    return torch.tensor(scores, dtype=torch.float64)


def leave_one_out_baseline(rewards: torch.Tensor) -> torch.Tensor:
    """(B, K) baselines for (B, K) rewards: b[i, j] = mean_{l != j} r[i, l]; needs K >= 2."""
    if rewards.dim() != 2 or rewards.size(1) < 2:
        raise ValueError(
            f"the leave-one-out baseline needs (B, K >= 2) rewards, got {tuple(rewards.shape)}"
        )
    k = rewards.size(1)
    return (rewards.sum(dim=1, keepdim=True) - rewards) / (k - 1)


def mention_counts(
    hyps: Sequence[str], gt_objects_per_hyp: Sequence[Collection[str]], vocabulary: ObjectVocabulary
) -> Tuple[torch.Tensor, torch.Tensor]:
    """((N,), (N,)) float64: the distinct objects ``hyps[i]`` mentions (``vocabulary``) that
    ``gt_objects_per_hyp[i]`` lacks (hallucinated) and that it holds (correct)."""
    if len(hyps) != len(gt_objects_per_hyp):
        raise ValueError(
            f"{len(hyps)} hypotheses but {len(gt_objects_per_hyp)} ground-truth object sets"
        )
    found = [
        caption_hallucinations(hyp, set(gt), vocabulary)
        for hyp, gt in zip(hyps, gt_objects_per_hyp)
    ]
    return (
        torch.tensor([len(f["hallucinated"]) for f in found], dtype=torch.float64),
        torch.tensor([len(f["correct"]) for f in found], dtype=torch.float64),
    )


def grounding_rewards(
    pred,
    gt,
    thresh: Optional[float] = 0.5,
    min_area: Optional[float] = None,
    max_area: Optional[float] = None,
    medium: bool = False,
    pos_reward: Optional[float] = None,
    neg_reward: Optional[float] = None,
) -> torch.Tensor:
    """(N,) float64 rewards for predicted vs ground-truth boxes (N, 4) in original pixels.

    With ``thresh``: 1 for a hit (IoU >= thresh and positive intersection), else 0; with
    ``thresh=None``: the IoU itself. Rows whose GT area fails the area filter
    (:func:`~unival.metrics.grounding.area_filter`) get 0.
    Then ``pos_reward`` replaces every positive reward and ``neg_reward`` every zero one.
    """
    if thresh is None:
        scores = box_iou(pred, gt)
    else:
        scores = grounding_hits(pred, gt, thresh).to(torch.float64)
    scores = scores * area_filter(box_area(gt), min_area, max_area, medium).to(torch.float64)
    if pos_reward is not None:
        scores = torch.where(scores > 0, torch.full_like(scores, pos_reward), scores)
    if neg_reward is not None:
        scores = torch.where(scores == 0, torch.full_like(scores, neg_reward), scores)
    return scores
