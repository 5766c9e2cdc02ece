"""``refcoco_scst_reward_criterion``: RL fine-tuning for grounding, "rewarded soups"
(UnIVAL paper, weight interpolation).

Per batch of B expressions:

1. generate with the task's ``--scst-args`` generator (eval mode, no grad; the scripts use
   beam 5, min/max length 4) and keep each row's best hypothesis without its EOS: 4 bin tokens;
2. reward r_i: de-quantise the bins to original pixels (as the refcoco task's evaluation does)
   and score against ``region_coords`` with :func:`unival.metrics.rewards.grounding_rewards`:
   ``--metric acc`` gives [IoU >= first ``--acc-thresh`` and positive intersection], ``--metric
   iou`` the IoU itself (an addition: the reference only has ``acc``); times the area filter of
   ``--min-area-size`` / ``--max-area-size`` / ``--medium-area`` (small: max 30000 only; large:
   min 100000 only; medium: both plus ``--medium-area``); ``--pos-reward`` / ``--neg-reward``
   replace 1 and 0;
3. teacher-force the model (train mode) on the generated bins: prev = [BOS, g1, g2, g3],
   target = [g1 .. g4]; RL loss = -sum_i sum_t lp(g_it) * r_i (**no baseline**, as the reference);
4. with ``--lambda-reinforce`` lam > 0: loss = CE + lam * RL, where CE = -sum lp(y_t) of the
   ground-truth bins (target without EOS) under the *same* logits (conditioned on the generated
   prefix). ``sample_size`` = generated non-pad tokens.

The area and threshold options are shared with the refcoco task (same names, one command-line
flag each), so passing them also restricts the task's validation accuracy to that bucket.
``--logprob`` and ``--reinforce`` are accepted for script compatibility; the reference ignores them.
Logged: ``reward`` = mean reward per row.
"""

import logging
from dataclasses import dataclass, field
from typing import Optional

import torch
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from omegaconf import II

from unival.criterions.scst_caption import reduce_reward_metrics
from unival.criterions.scst_common import (
    ScstGenerators,
    expand_net_input,
    generated_batch,
    policy_gradient_loss,
    strip_trailing_eos,
)
from unival.metrics.grounding import parse_thresholds
from unival.metrics.rewards import grounding_rewards

logger = logging.getLogger(__name__)

NUM_BOX_TOKENS = 4


@dataclass
class RefcocoScstRewardCriterionConfig(FairseqDataclass):
    scst_cider_cached_tokens: Optional[str] = field(
        default=None, metadata={"help": "accepted for script compatibility; unused by grounding"}
    )
    ignore_prefix_size: int = field(
        default=0, metadata={"help": "ignore the first N generated positions"}
    )
    sentence_avg: bool = II("optimization.sentence_avg")
    constraint_range: Optional[str] = field(
        default=None,
        metadata={"help": "accepted for script compatibility; generation uses the task's masks"},
    )
    acc_thresh: str = field(
        default="0.5", metadata={"help": "IoU threshold of the acc reward (first of a list)"}
    )
    metric: ChoiceEnum(["acc", "iou"]) = field(
        default="acc",
        metadata={"help": "reward: acc (hit at --acc-thresh) or iou (the IoU itself)"},
    )
    max_area_size: Optional[float] = field(
        default=None, metadata={"help": "reward only GT boxes smaller (px²)"}
    )
    min_area_size: Optional[float] = field(
        default=None, metadata={"help": "reward only GT boxes larger (px²)"}
    )
    medium_area: bool = field(
        default=False, metadata={"help": "invert the area bounds: reward medium boxes"}
    )
    pos_reward: Optional[float] = field(
        default=None, metadata={"help": "value replacing positive rewards"}
    )
    neg_reward: Optional[float] = field(
        default=None, metadata={"help": "value replacing zero rewards"}
    )
    lambda_reinforce: float = field(default=0.0, metadata={"help": "lam > 0: loss = CE + lam * RL"})
    logprob: bool = field(
        default=False, metadata={"help": "accepted for script compatibility (unused)"}
    )
    reinforce: bool = field(
        default=False, metadata={"help": "accepted for script compatibility (unused)"}
    )


@register_criterion("refcoco_scst_reward_criterion", dataclass=RefcocoScstRewardCriterionConfig)
class RefcocoScstRewardCriterion(FairseqCriterion):
    def __init__(self, task, cfg: RefcocoScstRewardCriterionConfig):
        super().__init__(task)
        self.cfg = cfg
        scst_args = getattr(task.cfg, "scst_args", None)
        if scst_args is None or not hasattr(task, "tokens_to_original_box"):
            raise ValueError(
                f"refcoco_scst_reward_criterion needs the refcoco task (got {type(task).__name__})"
            )
        self.generators = ScstGenerators(task, scst_args)
        self.thresh = parse_thresholds(cfg.acc_thresh)[0] if cfg.metric == "acc" else None

    @classmethod
    def build_criterion(cls, cfg: RefcocoScstRewardCriterionConfig, task):
        return cls(task, cfg)

    def rewards(self, boxes: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """(B,) rewards of predicted vs ground-truth boxes (B, 4), original pixels."""
        cfg = self.cfg
        return grounding_rewards(
            boxes,
            gt,
            self.thresh,
            cfg.min_area_size,
            cfg.max_area_size,
            cfg.medium_area,
            cfg.pos_reward,
            cfg.neg_reward,
        )

    def forward(self, model, sample, update_num: int = 0, reduce: bool = True):
        """Return (loss, sample_size, logging_output) for a refcoco batch."""
        eos = self.task.target_dictionary.eos()
        hypos = self.generators.generate(model, sample)
        seqs = [strip_trailing_eos(row[0], eos) for row in hypos]
        w_ratios = sample["w_resize_ratios"].tolist()
        h_ratios = sample["h_resize_ratios"].tolist()
        boxes = torch.tensor(
            [
                self.task.tokens_to_original_box(s, w, h)
                for s, w, h in zip(seqs, w_ratios, h_ratios)
            ],
            dtype=torch.float64,
        ).reshape(-1, 4)
        rewards = self.rewards(boxes, sample["region_coords"].detach().cpu().double())

        device = sample["target"].device
        batch_size = len(seqs)
        prev, target = generated_batch(
            seqs, self.task.target_dictionary.bos(), self.padding_idx, device
        )
        net_output = model(**expand_net_input(sample["net_input"], batch_size, 1, prev))
        lprobs = model.get_normalized_probs(net_output, log_probs=True)
        gt = sample["target"][:, :-1]  # the 4 ground-truth bins, EOS left out
        if self.cfg.ignore_prefix_size > 0:
            n = self.cfg.ignore_prefix_size
            lprobs, target, gt = lprobs[:, n:], target[:, n:], gt[:, n:]
        loss, ntokens = policy_gradient_loss(lprobs, target, rewards.to(device), self.padding_idx)
        if self.cfg.lambda_reinforce > 0:
            width = min(gt.size(1), lprobs.size(1))
            ce, _ = policy_gradient_loss(
                lprobs[:, :width],
                gt[:, :width],
                torch.ones(batch_size, device=device),
                self.padding_idx,
            )
            loss = ce + self.cfg.lambda_reinforce * loss
        sample_size = batch_size if self.cfg.sentence_avg else ntokens
        logging_output = {
            "loss": loss.data,
            "reward": float(rewards.sum()),
            "ntokens": ntokens,
            "nsentences": batch_size,
            "sample_size": sample_size,
        }
        return loss, sample_size, logging_output

    @classmethod
    def reduce_metrics(cls, logging_outputs) -> None:
        """loss per sample_size unit; reward = mean reward per row."""
        reduce_reward_metrics(logging_outputs)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
