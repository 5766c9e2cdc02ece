"""``adjust_label_smoothed_cross_entropy``: label-smoothed CE with constraint masks
(as OFA/UnIVAL's).

Per target token y with log-probabilities lp (after masking and ``conf`` scaling):

* nll = -lp[y]
* smooth = -sum_{v in A} lp[v], with A the allowed set: the batch's ``constraint_masks`` row,
  else {0,1,2,3} + [start, end) from ``--constraint-range``, else the whole vocabulary
* eps_i = eps / (|A| - 1)  (``|A| - 1 + 1e-6`` when A is restricted)
* loss = (1 - eps - eps_i) * nll + eps_i * smooth

Optionally only the (1 - r) lowest-loss tokens are kept once ``update_num > drop_worst_after``,
and R-Drop adds a symmetric KL between two passes of the same batch.
"""

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from fairseq import metrics, utils
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass
from omegaconf import II

from unival.generation.logit_masks import NUM_SPECIAL_TOKENS, parse_constraint_range
from unival.models.perf import fast_paths_enabled
from unival.models.unival import UnivalModel

logger = logging.getLogger(__name__)


@dataclass
class AdjustLabelSmoothedCrossEntropyConfig(FairseqDataclass):
    label_smoothing: float = field(
        default=0.0, metadata={"help": "epsilon for label smoothing (0: plain NLL)"}
    )
    report_accuracy: bool = field(default=False, metadata={"help": "log token accuracy"})
    ignore_prefix_size: int = field(
        default=0, metadata={"help": "ignore the first N target positions"}
    )
    ignore_eos: bool = field(default=False, metadata={"help": "do not train on the EOS target"})
    sentence_avg: bool = II("optimization.sentence_avg")
    drop_worst_ratio: float = field(
        default=0.0, metadata={"help": "drop this fraction of highest-loss tokens (token level)"}
    )
    drop_worst_after: int = field(
        default=0, metadata={"help": "start dropping after this many updates"}
    )
    use_rdrop: bool = field(
        default=False, metadata={"help": "use R-Drop (two passes + symmetric KL)"}
    )
    reg_alpha: float = field(default=1.0, metadata={"help": "weight of the R-Drop KL term"})
    sample_patch_num: int = field(
        default=196,
        metadata={"help": "accepted for script compatibility; ignored (the model's value is used)"},
    )
    constraint_range: Optional[str] = field(
        default=None,
        metadata={"help": "'start,end': only ids 0-3 and [start, end) may be predicted"},
    )


def constraint_range_ids(start: int, end: int, device=None) -> torch.Tensor:
    """Allowed ids under a constraint range: the specials 0..3 and [start, end),
    shape (4 + end - start,)."""
    return torch.cat([torch.arange(NUM_SPECIAL_TOKENS), torch.arange(start, end)]).to(device)


def label_smoothed_nll_loss(
    lprobs: torch.Tensor,
    target: torch.Tensor,
    epsilon: float,
    constraint_masks: Optional[torch.Tensor] = None,
    constraint_range: Optional[Tuple[int, int]] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-token smoothed loss and NLL, both (N,), for lprobs (N, V), target (N,),
    masks (N, V) bool."""
    nll = -lprobs.gather(dim=-1, index=target.unsqueeze(-1)).squeeze(-1)
    if epsilon == 0.0:
        # (1 - 0 - 0) * nll + 0 * smooth is nll, value and gradient, bit for bit
        return nll, nll
    if constraint_masks is not None:
        smooth = -lprobs.masked_fill(~constraint_masks, 0.0).sum(dim=-1)
        eps_i = epsilon / (constraint_masks.sum(dim=-1).to(lprobs.dtype) - 1 + 1e-6)
    elif constraint_range is not None:
        allowed = constraint_range_ids(*constraint_range, device=lprobs.device)
        smooth = -lprobs.index_select(-1, allowed).sum(dim=-1)
        eps_i = epsilon / (allowed.numel() - 1 + 1e-6)
    else:
        smooth = -lprobs.sum(dim=-1)
        eps_i = epsilon / (lprobs.size(-1) - 1)
    loss = (1.0 - epsilon - eps_i) * nll + eps_i * smooth
    return loss, nll


def separate_output_projection(model) -> Optional[Callable[[torch.Tensor], torch.Tensor]]:
    """The decoder's output projection (N, C) -> (N, V) where the criterion may apply it to
    the kept positions only: on the fast path, for an unwrapped UnivalModel. A model wrapped
    for distributed training keeps the whole forward inside the wrapper, and other models
    return their logits as they are."""
    if fast_paths_enabled() and type(model) is UnivalModel:
        return model.decoder.output_layer
    return None


def keep_lowest_loss(
    loss: torch.Tensor, drop_ratio: float, paired_halves: bool = False
) -> torch.Tensor:
    """Indices of the ``int(N * (1 - drop_ratio))`` lowest-loss tokens of ``loss`` (N,).

    With ``paired_halves`` (R-Drop), tokens are chosen on the first half and the same
    positions of the second half are kept too.
    """
    if paired_halves:
        half = loss.size(0) // 2
        _, idx = torch.topk(loss[:half], k=int(half * (1 - drop_ratio)), largest=False)
        return torch.cat([idx, idx + half])
    _, idx = torch.topk(loss, k=int(loss.size(0) * (1 - drop_ratio)), largest=False)
    return idx


def symmetric_kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """(KL(q||p) + KL(p||q)) / 2 summed over tokens, for log-probabilities p, q (N, V)."""
    return (F.kl_div(p, q.exp(), reduction="sum") + F.kl_div(q, p.exp(), reduction="sum")) / 2


def duplicate_batch(x: Any) -> Any:
    """A copy of a batch with every row twice (rows 0..B-1 then again 0..B-1); counts doubled."""
    if isinstance(x, dict):
        return {k: duplicate_batch(v) for k, v in x.items()}
    if isinstance(x, torch.Tensor):
        return x.repeat(2, *([1] * (x.dim() - 1))) if x.dim() > 0 else x * 2
    if isinstance(x, np.ndarray):
        return np.concatenate([x, x])
    if isinstance(x, list):
        return x + x
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, (int, float)):
        return x * 2
    raise TypeError(f"cannot duplicate a batch entry of type {type(x).__name__}")


@register_criterion(
    "adjust_label_smoothed_cross_entropy", dataclass=AdjustLabelSmoothedCrossEntropyConfig
)
class AdjustLabelSmoothedCrossEntropyCriterion(FairseqCriterion):
    def __init__(self, task, cfg: AdjustLabelSmoothedCrossEntropyConfig):
        super().__init__(task)
        self.cfg = cfg
        self.eps = cfg.label_smoothing
        self.constraint_range = parse_constraint_range(
            cfg.constraint_range, getattr(task, "target_dictionary", None)
        )

    @classmethod
    def build_criterion(cls, cfg: AdjustLabelSmoothedCrossEntropyConfig, task):
        return cls(task, cfg)

    def forward(self, model, sample, update_num: int = 0, reduce: bool = True):
        """Return (loss, sample_size, logging_output); ``sample`` is a batch dict or a list
        of them."""
        if isinstance(sample, (list, tuple)):
            return self._forward_list(model, sample, update_num)
        if self.cfg.use_rdrop:
            sample = duplicate_batch(sample)
        project = separate_output_projection(model)
        if project is not None:
            net_output = model(**sample["net_input"], features_only=True)
        else:
            net_output = model(**sample["net_input"])
        lprobs, target, masks = self.lprobs_and_target(model, net_output, sample, project)
        loss, nll_loss, n_kept = self.compute_loss(lprobs, target, masks, update_num)
        sample_size = sample["target"].size(0) if self.cfg.sentence_avg else n_kept
        logging_output = {
            "loss": loss.data,
            "nll_loss": nll_loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample["nsentences"],
            "sample_size": sample_size,
        }
        if self.cfg.report_accuracy:
            keep = target.ne(self.padding_idx)
            logging_output["n_correct"] = utils.item(lprobs.argmax(-1)[keep].eq(target[keep]).sum())
            logging_output["total"] = utils.item(keep.sum())
        return loss, sample_size, logging_output

    def _forward_list(self, model, samples: List[Dict[str, Any]], update_num: int):
        """loss = sum_i loss_i / n_i over the sub-batches; sample_size 1 (no further
        normalisation)."""
        loss, nll = 0.0, 0.0
        logging_output: Dict[str, Any] = {"ntokens": 0, "nsentences": 0}
        for i, sub in enumerate(samples, start=1):
            loss_i, size_i, log_i = self.forward(model, sub, update_num)
            size_i = max(size_i, 1)
            loss = loss + loss_i / size_i
            nll = nll + log_i["nll_loss"] / size_i
            logging_output[f"loss_v{i}"] = loss_i.data
            logging_output[f"sample_size_v{i}"] = size_i
            logging_output["ntokens"] += log_i["ntokens"]
            logging_output["nsentences"] += log_i["nsentences"]
            for key in ("n_correct", "total"):
                if key in log_i:
                    logging_output[key] = logging_output.get(key, 0) + log_i[key]
        logging_output.update({"loss": loss.data, "nll_loss": nll, "sample_size": 1})
        return loss, 1, logging_output

    def lprobs_and_target(self, model, net_output, sample, project=None):
        """Masked, conf-weighted lprobs (N, V), target (N,) and constraint masks (N, V) or None,
        pads removed. ``net_output[0]`` is the logits (B, T, V), or with ``project`` the
        decoder's features (B, T, C) and ``project`` its output projection.

        Fast path: the N kept positions are taken first, so the masking, log-softmax and
        ``conf`` scaling run on N rows rather than all B * T (a third of them in the demo's
        pretraining batches), and with ``project`` so does the output projection; a ``conf`` of
        ones (every row at full weight) is not applied. Each of those operations works row by
        row and a dropped row's gradient is zero on the plain path too: values are equal bit
        for bit, and gradients too except the projection weight's, whose sum over rows no
        longer adds the dropped rows' zeros (``tests/unit/criterions/``).
        """
        logits = net_output[0]
        target = model.get_targets(sample, net_output)
        masks = sample.get("constraint_masks")
        conf = sample.get("conf")
        if self.cfg.ignore_prefix_size > 0:
            n = self.cfg.ignore_prefix_size
            logits, target = logits[:, n:], target[:, n:]
            masks = masks[:, n:] if masks is not None else None
        keep = target.ne(self.padding_idx)
        if self.cfg.ignore_eos:
            keep &= target.ne(self.task.target_dictionary.eos())
        rows_first = project is not None or fast_paths_enabled()
        if rows_first:
            logits, target = logits[keep], target[keep]
            if project is not None:
                logits = project(logits)
            masks = masks[keep] if masks is not None else None
            if conf is not None and bool(conf.eq(1).all()):
                conf = None  # x * 1 is x, in value and in gradient: skip an (N, V) pass each way
            if conf is not None:
                conf = conf[:, None].expand(keep.shape)[keep][:, None]  # (N, 1)
        elif conf is not None:
            conf = conf[:, None, None]  # (B, 1, 1)
        if masks is not None:
            logits = logits.masked_fill(~masks, -math.inf)
        if self.constraint_range is not None:
            start, end = self.constraint_range
            outside = torch.ones(logits.size(-1), dtype=torch.bool, device=logits.device)
            outside[:NUM_SPECIAL_TOKENS] = False
            outside[start:end] = False
            logits = logits.masked_fill(outside, -math.inf)
        lprobs = model.get_normalized_probs((logits,) + tuple(net_output[1:]), log_probs=True)
        if conf is not None:
            lprobs = lprobs * conf.to(lprobs.dtype)
        if rows_first:
            return lprobs, target, masks
        return lprobs[keep], target[keep], masks[keep] if masks is not None else None

    def compute_loss(self, lprobs, target, masks, update_num: int):
        """Summed loss and NLL over the kept tokens, and the number of kept tokens."""
        loss, nll = label_smoothed_nll_loss(lprobs, target, self.eps, masks, self.constraint_range)
        if self.cfg.drop_worst_ratio > 0 and update_num > self.cfg.drop_worst_after:
            idx = keep_lowest_loss(
                loss, self.cfg.drop_worst_ratio, paired_halves=self.cfg.use_rdrop
            )
            loss, nll, lprobs = loss[idx], nll[idx], lprobs[idx]
            masks = masks[idx] if masks is not None else None
        n_kept = loss.numel()
        loss, nll = loss.sum(), nll.sum()
        if self.cfg.use_rdrop:
            half = lprobs.size(0) // 2
            p, q = lprobs[:half], lprobs[half:]
            if self.constraint_range is not None:
                allowed = constraint_range_ids(*self.constraint_range, device=lprobs.device)
                p, q = p.index_select(-1, allowed), q.index_select(-1, allowed)
            loss = loss + symmetric_kl(p, q) * self.cfg.reg_alpha
        return loss, nll, n_kept

    @classmethod
    def reduce_metrics(cls, logging_outputs) -> None:
        """loss and nll_loss per sample_size unit (natural log, as the reference);
        ppl = exp(nll_loss)."""

        def total(key):
            return utils.item(sum(log.get(key, 0) for log in logging_outputs))

        sample_size = total("sample_size")
        ntokens = total("ntokens")
        metrics.log_scalar("loss", total("loss") / max(sample_size, 1), sample_size, round=3)
        metrics.log_scalar("nll_loss", total("nll_loss") / max(sample_size, 1), ntokens, round=3)
        metrics.log_derived(
            "ppl", lambda meters: utils.get_perplexity(meters["nll_loss"].avg, base=math.e)
        )
        metrics.log_scalar("ntokens", ntokens, 1, round=3)
        metrics.log_scalar("nsentences", total("nsentences"), 1, round=3)
        metrics.log_scalar("sample_size", sample_size, 1, round=3)
        i = 1
        while any(f"sample_size_v{i}" in log for log in logging_outputs):
            size_i = total(f"sample_size_v{i}")
            metrics.log_scalar(f"loss_v{i}", total(f"loss_v{i}") / max(size_i, 1), size_i, round=3)
            i += 1
        n_total = total("total")
        if n_total > 0:
            metrics.log_scalar("total", n_total)
            metrics.log_scalar("n_correct", total("n_correct"))
            metrics.log_derived(
                "accuracy",
                lambda meters: (
                    round(meters["n_correct"].sum * 100.0 / meters["total"].sum, 3)
                    if meters["total"].sum > 0
                    else float("nan")
                ),
            )

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        """Every logging value is a number summed across workers before ``reduce_metrics``."""
        return True
