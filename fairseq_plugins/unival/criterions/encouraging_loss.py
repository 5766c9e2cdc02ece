"""``adjust_label_smoothed_encouraging_loss``: label-smoothed CE plus the encouraging loss
(UnIVAL's captioning loss).

Per kept target token y with probabilities p = exp(lp) over the V entries:

1. the smoothed CE of :mod:`unival.criterions.label_smoothed_ce` (constraint masks, ``conf``);
2. drop worst: once ``update_num > drop_worst_after`` and ``drop_worst_ratio`` > 0, keep the
   ``int(N * (1 - r_w))`` lowest-loss tokens;
3. drop best: once ``update_num > drop_best_after`` and ``drop_best_ratio`` > 0, keep the
   ``int(N * (1 - r_b))`` highest-loss tokens. (The reference also runs this step with r_b = 0,
   where it only reorders the tokens: no effect on the sums, so it is skipped here; with R-Drop
   that reordering would misalign the two halves' KL, so r_b > 0 with R-Drop is refused);
4. bonus b(p) = ln(max(1 - p, 1e-5)) for p <= tau, and the tangent line
   (p - tau) / (tau - 1) + ln(1 - tau) for p > tau, with tau = ``log_end`` (1: no tangent);
5. loss = sum(smoothed CE) + (1 - eps) * sum_tokens b(p_y) + (eps / V) * sum_tokens sum_v b(p_v).

The bonus enters with a **plus** sign, as in the reference code and the encouraging-loss paper
(loss = -ln p + ln(1 - p)): b falls as p rises, so the term rewards confident correct tokens.
(Read naively the reference's ``nll_loss(-bonus)`` subtracts ``b(p_y)``, but that helper
negates its input once more: the value added is ``+b(p_y)``.)
``sample_size`` is the number of kept tokens; ``nll_loss`` sums the kept tokens' NLL.
"""

import math
from dataclasses import dataclass, field

import torch
from fairseq.criterions import register_criterion

from unival.criterions.label_smoothed_ce import (
    AdjustLabelSmoothedCrossEntropyConfig,
    AdjustLabelSmoothedCrossEntropyCriterion,
    constraint_range_ids,
    keep_lowest_loss,
    label_smoothed_nll_loss,
    symmetric_kl,
)

BONUS_FLOOR = 1e-5  # 1 - p is clamped here before the log


@dataclass
class AdjustLabelSmoothedEncouragingLossConfig(AdjustLabelSmoothedCrossEntropyConfig):
    log_end: float = field(
        default=0.75,
        metadata={
            "help": "tau: above this probability the bonus continues as its tangent (1: pure log)"
        },
    )
    drop_best_ratio: float = field(
        default=0.0, metadata={"help": "drop this fraction of lowest-loss tokens"}
    )
    drop_best_after: int = field(
        default=0, metadata={"help": "start dropping best tokens after this many updates"}
    )


def encouraging_bonus(probs: torch.Tensor, log_end: float = 0.75) -> torch.Tensor:
    """b(p) elementwise (same shape as ``probs``): ln(max(1-p, 1e-5)), tangent above
    ``log_end`` < 1."""
    bonus = torch.log(torch.clamp(1.0 - probs, min=BONUS_FLOOR))
    if log_end != 1.0:
        tangent = (probs - log_end) / (log_end - 1.0) + math.log(1.0 - log_end)
        bonus = torch.where(probs > log_end, tangent, bonus)
    return bonus


def encouraging_term(
    lprobs: torch.Tensor, target: torch.Tensor, epsilon: float, log_end: float
) -> torch.Tensor:
    """Scalar (1 - eps) * sum_i b(p_i[y_i]) + (eps / V) * sum_i sum_v b(p_i[v]) for
    lprobs (N, V), target (N,)."""
    bonus = encouraging_bonus(lprobs.exp(), log_end)
    on_target = bonus.gather(-1, target.unsqueeze(-1)).sum()
    return (1.0 - epsilon) * on_target + (epsilon / lprobs.size(-1)) * bonus.sum()


def keep_highest_loss(loss: torch.Tensor, drop_ratio: float) -> torch.Tensor:
    """Indices of the ``int(N * (1 - drop_ratio))`` highest-loss entries of ``loss`` (N,),
    largest first."""
    _, idx = torch.topk(loss, k=int(loss.size(0) * (1 - drop_ratio)), largest=True)
    return idx


@register_criterion(
    "adjust_label_smoothed_encouraging_loss", dataclass=AdjustLabelSmoothedEncouragingLossConfig
)
class AdjustLabelSmoothedEncouragingLossCriterion(AdjustLabelSmoothedCrossEntropyCriterion):
    cfg: AdjustLabelSmoothedEncouragingLossConfig

    def compute_loss(self, lprobs, target, masks, update_num: int):
        """Summed loss (CE + encouraging term) and NLL over the kept tokens, and their number."""
        cfg = self.cfg
        loss, nll = label_smoothed_nll_loss(lprobs, target, self.eps, masks, self.constraint_range)
        if cfg.drop_worst_ratio > 0 and update_num > cfg.drop_worst_after:
            idx = keep_lowest_loss(loss, cfg.drop_worst_ratio, paired_halves=cfg.use_rdrop)
            loss, nll, lprobs, target = loss[idx], nll[idx], lprobs[idx], target[idx]
        if cfg.drop_best_ratio > 0 and update_num > cfg.drop_best_after:
            if cfg.use_rdrop:
                raise ValueError(
                    "--drop-best-ratio cannot be combined with --use-rdrop (pairs would split)"
                )
            idx = keep_highest_loss(loss, cfg.drop_best_ratio)
            loss, nll, lprobs, target = loss[idx], nll[idx], lprobs[idx], target[idx]
        n_kept = loss.numel()
        total = loss.sum() + encouraging_term(lprobs, target, self.eps, cfg.log_end)
        if cfg.use_rdrop:
            half = lprobs.size(0) // 2
            p, q = lprobs[:half], lprobs[half:]
            if self.constraint_range is not None:
                allowed = constraint_range_ids(*self.constraint_range, device=lprobs.device)
                p, q = p.index_select(-1, allowed), q.index_select(-1, allowed)
            total = total + symmetric_kl(p, q) * cfg.reg_alpha
        return total, nll.sum(), n_kept
