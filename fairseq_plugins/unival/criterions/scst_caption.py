"""``scst_reward_criterion``: self-critical sequence training for captioning with a CIDEr-D reward.

Per batch of B images with references (the caption task with ``--scst`` keeps every "&&"
reference of a training row in ``sample["references"]``):

1. generate K captions per image with the task's ``--scst-args`` generator (eval mode, no grad;
   beam search returns its K = beam hypotheses, ``"sampling": true`` draws K samples);
2. reward r_ij = CIDEr-D of caption j against image i's references (lowercased,
   punctuation-free, n = 4, sigma = 6), with document frequencies fixed up front;
3. baseline b_ij (``--scst-baseline``): ``leave-one-out`` (default; the mean reward of the
   other K - 1 captions of the same image, as the reference's OFA-derived criterion and spec
   §5.4) or ``greedy`` (the reward of the image's greedy caption, Rennie et al. 2017);
4. teacher-force the model (train mode) on the generated captions, EOS included:
   loss = -sum_ij sum_t lp(g_ijt) * (r_ij - b_ij); ``sample_size`` = generated non-pad tokens
   (K * B sentences with ``--sentence-avg``).

Document frequencies: by default from the references of the first training file (every row,
all ranks; spec §3.1 uses a cached pickle of the training words, ``coco-train-words.p``, which
``--scst-cider-cached-tokens`` can still name). The reference appends `` <eos>`` to every
sentence before scoring; here captions are scored as the validation CIDEr-D is, without it.
Logged: ``reward`` = mean reward of the generated captions (not ``score``, which the refcoco
task uses for its validation accuracy).
"""
import logging
from dataclasses import dataclass, field
from typing import List, Optional

import torch
from fairseq import metrics, utils
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from omegaconf import II

from unival.criterions.scst_common import (
    ScstGenerators,
    expand_net_input,
    generated_batch,
    policy_gradient_loss,
)
from unival.metrics.caption import CiderDocumentFrequency
from unival.metrics.cider_cache import load_cider_cached_tokens
from unival.metrics.rewards import cider_rewards, leave_one_out_baseline

logger = logging.getLogger(__name__)

BASELINES = ChoiceEnum(["leave-one-out", "greedy"])


@dataclass
class ScstRewardCriterionConfig(FairseqDataclass):
    scst_cider_cached_tokens: Optional[str] = field(
        default=None, metadata={"help": "pickled CIDEr-D document frequencies (reference format); "
                                "default: computed from the training file's references"})
    scst_baseline: BASELINES = field(
        default="leave-one-out", metadata={"help": "baseline: mean reward of the other samples, or the greedy caption's"})
    ignore_prefix_size: int = field(default=0, metadata={"help": "ignore the first N generated positions"})
    sentence_avg: bool = II("optimization.sentence_avg")
    constraint_range: Optional[str] = field(
        default=None, metadata={"help": "accepted for script compatibility; generation uses the task's"})


@register_criterion("scst_reward_criterion", dataclass=ScstRewardCriterionConfig)
class ScstRewardCriterion(FairseqCriterion):
    def __init__(self, task, cfg: ScstRewardCriterionConfig):
        super().__init__(task)
        self.cfg = cfg
        scst_args = getattr(task.cfg, "scst_args", None)
        if scst_args is None:
            raise ValueError(f"scst_reward_criterion needs a task with --scst-args (got {type(task).__name__})")
        self.generators = ScstGenerators(task, scst_args)
        self._cider_stats: Optional[CiderDocumentFrequency] = None

    @classmethod
    def build_criterion(cls, cfg: ScstRewardCriterionConfig, task):
        return cls(task, cfg)

    def cider_stats(self) -> CiderDocumentFrequency:
        """Document frequencies: the cached-tokens file if named, else the first training file's references."""
        if self._cider_stats is None:
            if self.cfg.scst_cider_cached_tokens:
                self._cider_stats = load_cider_cached_tokens(self.cfg.scst_cider_cached_tokens)
            else:
                from unival.tasks.caption import read_reference_statistics

                self._cider_stats = read_reference_statistics(
                    self.task.path_for_split("train"), self.task.cfg.selected_cols)
        return self._cider_stats

    def decode(self, tokens: torch.Tensor) -> str:
        return self.task.tokenizer.decode(tokens).strip()

    def forward(self, model, sample, update_num: int = 0, reduce: bool = True):
        """Return (loss, sample_size, logging_output) for a batch whose rows carry ``references``."""
        references: List[List[str]] = sample.get("references") or []
        batch_size = sample["target"].size(0)
        if len(references) != batch_size or not all(references):
            raise ValueError("scst_reward_criterion needs every row's references in the batch: train the caption "
                             "task with --scst on a TSV whose caption column joins all references with '&&'")
        hypos = self.generators.generate(model, sample)
        k = min(len(row) for row in hypos)
        if k < 2 and self.cfg.scst_baseline == "leave-one-out":
            raise ValueError("the leave-one-out baseline needs at least 2 captions per image: "
                             "set beam >= 2 in --scst-args")
        seqs = [row[j] for row in hypos for j in range(k)]
        stats = self.cider_stats()
        rewards = cider_rewards([self.decode(s) for s in seqs],
                                [references[i] for i in range(batch_size) for _ in range(k)], stats)
        rewards = rewards.view(batch_size, k)
        if self.cfg.scst_baseline == "greedy":
            greedy = [row[0] for row in self.generators.generate(model, sample, greedy=True)]
            baseline = cider_rewards([self.decode(s) for s in greedy], references, stats).unsqueeze(1)
        else:
            baseline = leave_one_out_baseline(rewards)
        advantage = (rewards - baseline).reshape(-1)

        device = sample["target"].device
        prev, target = generated_batch(seqs, self.task.target_dictionary.bos(), self.padding_idx, device)
        net_output = model(**expand_net_input(sample["net_input"], batch_size, k, prev))
        lprobs = model.get_normalized_probs(net_output, log_probs=True)
        if self.cfg.ignore_prefix_size > 0:
            lprobs = lprobs[:, self.cfg.ignore_prefix_size:]
            target = target[:, self.cfg.ignore_prefix_size:]
        loss, ntokens = policy_gradient_loss(lprobs, target, advantage.to(device), self.padding_idx)
        nsentences = target.size(0)
        sample_size = nsentences if self.cfg.sentence_avg else ntokens
        logging_output = {
            "loss": loss.data,
            "reward": float(rewards.sum()),
            "ntokens": ntokens,
            "nsentences": nsentences,
            "sample_size": sample_size,
        }
        return loss, sample_size, logging_output

    @classmethod
    def reduce_metrics(cls, logging_outputs) -> None:
        """loss per sample_size unit; reward = mean reward per generated caption."""
        reduce_reward_metrics(logging_outputs)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True


def reduce_reward_metrics(logging_outputs) -> None:
    """Shared by the SCST criterions: loss / sample_size, reward / nsentences, and the counts."""

    def total(key):
        return utils.item(sum(log.get(key, 0) for log in logging_outputs))

    sample_size, nsentences = total("sample_size"), total("nsentences")
    metrics.log_scalar("loss", total("loss") / max(sample_size, 1), sample_size, round=3)
    metrics.log_scalar("reward", total("reward") / max(nsentences, 1), nsentences, round=3)
    metrics.log_scalar("ntokens", total("ntokens"), 1, round=3)
    metrics.log_scalar("nsentences", nsentences, 1, round=3)
    metrics.log_scalar("sample_size", sample_size, 1, round=3)
