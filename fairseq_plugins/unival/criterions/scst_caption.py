"""``scst_reward_criterion``: self-critical sequence training for captioning with a CIDEr-D reward.

Per batch of B images with references (the caption task with ``--scst`` keeps every "&&"
reference of a training row in ``sample["references"]``):

1. generate K captions per image with the task's ``--scst-args`` generator (eval mode, no grad;
   beam search returns its K = beam hypotheses, ``"sampling": true`` draws K samples);
2. reward r_ij = CIDEr-D of caption j against image i's references (lowercased,
   punctuation-free, n = 4, sigma = 6), with document frequencies fixed up front; with
   ``--scst-chair-penalty`` lambda > 0, minus lambda * h_ij, h_ij = the number of distinct objects
   caption j mentions that image i's ground truth (``--scst-chair-gt``) lacks (CHAIR's
   hallucinated mentions, :func:`unival.metrics.rewards.mention_counts`); with
   ``--scst-chair-bonus`` mu > 0, plus mu * c_ij, c_ij = the distinct objects it names that
   the ground truth holds. The bonus closes the loophole of the penalty alone, which a model
   escapes by naming fewer objects (measured on the toy world: captions cut before the noun,
   "there are two shapes a big red", or one object repeated; BENCHMARKS.md §7);
3. baseline b_ij (``--scst-baseline``): ``leave-one-out`` (default; the mean reward of the
   other K - 1 captions of the same image, as the reference's OFA-derived SCST
   criteria do) or ``greedy`` (the reward of the image's greedy caption, Rennie et al. 2017);
4. teacher-force the model (train mode) on the generated captions, EOS included:
   loss = -sum_ij sum_t lp(g_ijt) * (r_ij - b_ij); ``sample_size`` = generated non-pad tokens
   (K * B sentences with ``--sentence-avg``).

Document frequencies: by default from the references of the first training file (every row,
all ranks; the original recipe uses a cached pickle of the training words,
``coco-train-words.p``, which ``--scst-cider-cached-tokens`` can still name). The reference
appends `` <eos>`` to every sentence before scoring; here captions are scored as the
validation CIDEr-D is, without it.
Hallucination penalty: ``--scst-chair-gt`` is a COCO instances JSON or a toy-world scenes JSON
(:func:`unival.probes.ground_truth.load_ground_truth`, loaded once when the criterion is built);
a row's objects are found by its ``uniq_id`` (``sample["uniq_ids"]``, "12" matching image id 12),
so the training rows' uniq_id must be the image id: on the toy world that is one row per image
with "&&"-joined references, like ``caption_valid.tsv`` (the toy train TSV's ``<image_id>_<k>``
rows do not match). A uniq_id absent from the ground truth is an error. The greedy baseline
gets the same penalty and bonus.

Logged: ``reward`` = mean reward of the generated captions (not ``score``, which the refcoco
task uses for its validation accuracy), ``cider`` = its mean CIDEr-D part and, with
``--scst-chair-gt`` (also at penalty 0), ``hallucinated`` and ``correct`` = mean hallucinated and
correct object mentions per caption.
"""

import logging
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import torch
from fairseq import metrics, utils
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from omegaconf import II

from unival.criterions.cider_cache import load_cider_cached_tokens
from unival.criterions.scst_common import (
    ScstGenerators,
    expand_net_input,
    generated_batch,
    policy_gradient_loss,
)
from unival.metrics.caption import CiderDocumentFrequency
from unival.metrics.rewards import cider_rewards, leave_one_out_baseline, mention_counts
from unival.probes.ground_truth import GroundTruth, json_id, load_ground_truth
from unival.tasks.caption import read_reference_statistics

logger = logging.getLogger(__name__)

BASELINES = ChoiceEnum(["leave-one-out", "greedy"])


@dataclass
class ScstRewardCriterionConfig(FairseqDataclass):
    scst_cider_cached_tokens: Optional[str] = field(
        default=None,
        metadata={
            "help": "pickled CIDEr-D document frequencies (reference format); "
            "default: computed from the training file's references"
        },
    )
    scst_baseline: BASELINES = field(
        default="leave-one-out",
        metadata={"help": "baseline: mean reward of the other samples, or the greedy caption's"},
    )
    ignore_prefix_size: int = field(
        default=0, metadata={"help": "ignore the first N generated positions"}
    )
    sentence_avg: bool = II("optimization.sentence_avg")
    constraint_range: Optional[str] = field(
        default=None,
        metadata={"help": "accepted for script compatibility; generation uses the task's"},
    )
    scst_chair_penalty: float = field(
        default=0.0,
        metadata={
            "help": "lambda >= 0: reward = CIDEr-D - lambda * (distinct hallucinated objects of "
            "the caption, CHAIR); needs --scst-chair-gt; 0 = off"
        },
    )
    scst_chair_gt: Optional[str] = field(
        default=None,
        metadata={
            "help": "COCO instances JSON or toy-world scenes JSON of the training images; rows are "
            "matched by uniq_id = image id (toy world: one row per image, '&&'-joined references, "
            "like caption_valid.tsv); given alone, hallucinations are logged, not penalised"
        },
    )
    scst_chair_bonus: float = field(
        default=0.0,
        metadata={
            "help": "mu >= 0: reward += mu * (distinct objects the caption names correctly), so "
            "that naming nothing does not escape --scst-chair-penalty; "
            "needs --scst-chair-gt; 0 = off"
        },
    )


@register_criterion("scst_reward_criterion", dataclass=ScstRewardCriterionConfig)
class ScstRewardCriterion(FairseqCriterion):
    def __init__(self, task, cfg: ScstRewardCriterionConfig):
        super().__init__(task)
        self.cfg = cfg
        scst_args = getattr(task.cfg, "scst_args", None)
        if scst_args is None:
            raise ValueError(
                f"scst_reward_criterion needs a task with --scst-args (got {type(task).__name__})"
            )
        self.generators = ScstGenerators(task, scst_args)
        self._cider_stats: Optional[CiderDocumentFrequency] = None
        self.chair_penalty = float(cfg.scst_chair_penalty)
        if not self.chair_penalty >= 0:
            raise ValueError(f"--scst-chair-penalty must be >= 0, got {cfg.scst_chair_penalty}")
        self.chair_bonus = float(cfg.scst_chair_bonus)
        if not self.chair_bonus >= 0:
            raise ValueError(f"--scst-chair-bonus must be >= 0, got {cfg.scst_chair_bonus}")
        for name, value in (
            ("--scst-chair-penalty", self.chair_penalty),
            ("--scst-chair-bonus", self.chair_bonus),
        ):
            if value > 0 and not cfg.scst_chair_gt:
                raise ValueError(
                    f"{name} > 0 needs --scst-chair-gt (a COCO instances JSON or a "
                    "toy-world scenes JSON of the training images)"
                )
        self.chair_gt: Optional[GroundTruth] = (
            load_ground_truth(cfg.scst_chair_gt) if cfg.scst_chair_gt else None
        )
        if self.chair_gt is not None:
            logger.info(
                "CHAIR penalty %g per hallucinated object, bonus %g per correct one, "
                "ground truth of %d images (%s) from %s",
                self.chair_penalty,
                self.chair_bonus,
                len(self.chair_gt.objects),
                self.chair_gt.kind,
                cfg.scst_chair_gt,
            )

    @classmethod
    def build_criterion(cls, cfg: ScstRewardCriterionConfig, task):
        return cls(task, cfg)

    def cider_stats(self) -> CiderDocumentFrequency:
        """Document frequencies: the cached-tokens file if named, else the first training file's
        references."""
        if self._cider_stats is None:
            if self.cfg.scst_cider_cached_tokens:
                self._cider_stats = load_cider_cached_tokens(self.cfg.scst_cider_cached_tokens)
            else:
                self._cider_stats = read_reference_statistics(
                    self.task.path_for_split("train"), self.task.cfg.selected_cols
                )
        return self._cider_stats

    def decode(self, tokens: torch.Tensor) -> str:
        return self.task.tokenizer.decode(tokens).strip()

    def row_objects(self, sample, batch_size: int) -> List[set]:
        """Each row's ground-truth objects, found by ``sample["uniq_ids"]``."""
        uniq_ids = sample.get("uniq_ids")
        if uniq_ids is None or len(uniq_ids) != batch_size:
            raise ValueError(
                "--scst-chair-gt needs every row's uniq_id in the batch (sample['uniq_ids'])"
            )
        objects = []
        for uniq_id in uniq_ids:
            key = json_id(uniq_id)
            if key not in self.chair_gt.objects:
                raise ValueError(
                    f"uniq_id {uniq_id!r} is not an image of "
                    f"--scst-chair-gt {self.cfg.scst_chair_gt}: "
                    "SCST rows need uniq_id = image id (one row per image)"
                )
            objects.append(self.chair_gt.objects[key])
        return objects

    def rewards(
        self, hyps: Sequence[str], refs: Sequence[Sequence[str]], objects: Optional[Sequence[set]]
    ) -> Tuple[torch.Tensor, torch.Tensor, Optional[Tuple]]:
        """(total, CIDEr-D, (hallucinated, correct) counts or None), each (N,) float64;
        total = CIDEr-D - lambda * hallucinated + mu * correct."""
        cider = cider_rewards(hyps, refs, self.cider_stats())
        if objects is None:
            return cider, cider, None
        hallucinated, correct = mention_counts(hyps, objects, self.chair_gt.vocabulary)
        return (
            cider - self.chair_penalty * hallucinated + self.chair_bonus * correct,
            cider,
            (hallucinated, correct),
        )

    def forward(self, model, sample, update_num: int = 0, reduce: bool = True):
        """Return (loss, sample_size, logging_output) for a batch whose rows carry
        ``references``."""
        references: List[List[str]] = sample.get("references") or []
        batch_size = sample["target"].size(0)
        if len(references) != batch_size or not all(references):
            raise ValueError(
                "scst_reward_criterion needs every row's references in the batch: "
                "train the caption task with --scst on a TSV whose caption column "
                "joins all references with '&&'"
            )
        hypos = self.generators.generate(model, sample)
        k = min(len(row) for row in hypos)
        if k < 2 and self.cfg.scst_baseline == "leave-one-out":
            raise ValueError(
                "the leave-one-out baseline needs at least 2 captions per image: "
                "set beam >= 2 in --scst-args"
            )
        seqs = [row[j] for row in hypos for j in range(k)]
        objects = self.row_objects(sample, batch_size) if self.chair_gt is not None else None
        rows = [i for i in range(batch_size) for _ in range(k)]
        rewards, cider, mentions = self.rewards(
            [self.decode(s) for s in seqs],
            [references[i] for i in rows],
            None if objects is None else [objects[i] for i in rows],
        )
        rewards = rewards.view(batch_size, k)
        if self.cfg.scst_baseline == "greedy":
            greedy = [row[0] for row in self.generators.generate(model, sample, greedy=True)]
            baseline = self.rewards([self.decode(s) for s in greedy], references, objects)[
                0
            ].unsqueeze(1)
        else:
            baseline = leave_one_out_baseline(rewards)
        advantage = (rewards - baseline).reshape(-1)

        device = sample["target"].device
        prev, target = generated_batch(
            seqs, self.task.target_dictionary.bos(), self.padding_idx, device
        )
        net_output = model(**expand_net_input(sample["net_input"], batch_size, k, prev))
        lprobs = model.get_normalized_probs(net_output, log_probs=True)
        if self.cfg.ignore_prefix_size > 0:
            lprobs = lprobs[:, self.cfg.ignore_prefix_size :]
            target = target[:, self.cfg.ignore_prefix_size :]
        loss, ntokens = policy_gradient_loss(lprobs, target, advantage.to(device), self.padding_idx)
        nsentences = target.size(0)
        sample_size = nsentences if self.cfg.sentence_avg else ntokens
        logging_output = {
            "loss": loss.data,
            "reward": float(rewards.sum()),
            "cider": float(cider.sum()),
            "ntokens": ntokens,
            "nsentences": nsentences,
            "sample_size": sample_size,
        }
        if mentions is not None:
            logging_output["hallucinated"] = float(mentions[0].sum())
            logging_output["correct"] = float(mentions[1].sum())
        return loss, sample_size, logging_output

    @classmethod
    def reduce_metrics(cls, logging_outputs) -> None:
        """loss per sample_size unit; reward, cider, hallucinated, correct = means per generated
        caption."""
        reduce_reward_metrics(logging_outputs)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True


def reduce_reward_metrics(logging_outputs) -> None:
    """Shared by the SCST criterions: loss / sample_size, reward / nsentences, the counts, and
    ``cider`` / ``hallucinated`` / ``correct`` per nsentences where the criterion logs them
    (captioning)."""

    def total(key):
        return utils.item(sum(log.get(key, 0) for log in logging_outputs))

    sample_size, nsentences = total("sample_size"), total("nsentences")
    metrics.log_scalar("loss", total("loss") / max(sample_size, 1), sample_size, round=3)
    metrics.log_scalar("reward", total("reward") / max(nsentences, 1), nsentences, round=3)
    for key in ("cider", "hallucinated", "correct"):
        if any(key in log for log in logging_outputs):
            metrics.log_scalar(key, total(key) / max(nsentences, 1), nsentences, round=3)
    metrics.log_scalar("ntokens", total("ntokens"), 1, round=3)
    metrics.log_scalar("nsentences", nsentences, 1, round=3)
    metrics.log_scalar("sample_size", sample_size, 1, round=3)
