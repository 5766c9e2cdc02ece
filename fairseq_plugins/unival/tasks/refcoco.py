"""The ``refcoco`` task (visual grounding on RefCOCO/+/g).

Training: cross-entropy on the four ``<bin_k>`` tokens of the resized box plus EOS.

Generation (validation with ``--eval-acc``, ``unival eval``, fairseq-generate): beam search of
exactly four tokens (``--eval-args`` default: beam 5, min_len 4, max_len_b 4) restricted to
``<bin_*>`` tokens (:class:`BinTokensMask`; the reference leaves decoding unrestricted
— ``--unconstrained-bins`` restores that for parity). Each hypothesis is de-quantised
(coord = k / (num_bins - 1) * max_image_size, then divided by the per-axis resize ratio) and
compared with the original box: a hit is IoU >= ``--acc-thresh`` with positive intersection.

Logged: ``score`` (accuracy at the first threshold, for ``--best-checkpoint-metric score``),
``acc@t`` per threshold, ``miou``, and ``acc@t_small/medium/large`` (GT area < 30000,
between, > 100000 px²). ``--min-area-size`` / ``--max-area-size`` / ``--medium-area``
restrict every count to :func:`unival.metrics.grounding.area_filter`'s size filter.
"""

import logging
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch
from fairseq import metrics, utils
from fairseq.tasks import register_task

from unival.data.refcoco_dataset import RefcocoDataset
from unival.metrics.grounding import (
    accuracies_from_statistics,
    grounding_statistics,
    parse_thresholds,
)
from unival.tasks.base import UnivalTask
from unival.tasks.config import UnivalTaskConfig

logger = logging.getLogger(__name__)

STAT_PREFIX = "_grd_"
DEFAULT_EVAL_ARGS = '{"beam": 5, "min_len": 4, "max_len_a": 0, "max_len_b": 4}'


@dataclass
class RefcocoConfig(UnivalTaskConfig):
    patch_image_size: int = field(
        default=512, metadata={"help": "square image side P (RefCOCO: 512)"}
    )
    max_src_length: int = field(
        default=80, metadata={"help": "truncate the expression to this many words"}
    )
    max_tgt_length: int = field(
        default=20, metadata={"help": "unused by grounding (kept for the recipe)"}
    )
    eval_args: str = field(
        default=DEFAULT_EVAL_ARGS, metadata={"help": "generation args for validation, JSON"}
    )
    eval_acc: bool = field(
        default=False, metadata={"help": "generate boxes in validation and log 'score' (Acc@t)"}
    )
    acc_thresh: str = field(
        default="0.5", metadata={"help": "IoU threshold(s), comma list; the first is 'score'"}
    )
    min_area_size: Optional[float] = field(
        default=None, metadata={"help": "count only GT boxes larger than this (px²)"}
    )
    max_area_size: Optional[float] = field(
        default=None, metadata={"help": "count only GT boxes smaller than this (px²)"}
    )
    medium_area: bool = field(
        default=False, metadata={"help": "invert the area bounds to select medium boxes"}
    )
    read_from_img_path: bool = field(
        default=False, metadata={"help": "image column holds paths under --image-dir"}
    )
    scst: bool = field(
        default=False,
        metadata={
            "help": "accepted for the RL recipes (refcoco_scst_reward_criterion "
            "reads --scst-args whether or not it is set)"
        },
    )
    scst_args: str = field(
        default=DEFAULT_EVAL_ARGS, metadata={"help": "generation args for RL fine-tuning, JSON"}
    )
    unconstrained_bins: bool = field(
        default=False,
        metadata={"help": "let decoding emit any token, as the reference does (non-bins score 0)"},
    )


class BinTokensMask:
    """Logit mask keeping only ``<bin_*>`` ids and EOS (so every hypothesis is bins then EOS)."""

    def __init__(self, bin_offset: int, num_bins: int, eos: int):
        self.start, self.end, self.eos = bin_offset, bin_offset + num_bins, eos
        self._blocked: Dict = {}

    def __call__(self, tokens: torch.Tensor, lprobs: torch.Tensor) -> torch.Tensor:
        key = (lprobs.device, lprobs.size(-1))
        if key not in self._blocked:
            blocked = torch.ones(lprobs.size(-1), dtype=torch.bool, device=lprobs.device)
            blocked[self.start : self.end] = False
            blocked[self.eos] = False
            self._blocked[key] = blocked
        return lprobs.masked_fill(self._blocked[key], -math.inf)

    def __repr__(self) -> str:
        return f"BinTokensMask([{self.start}, {self.end}) + eos {self.eos})"


@register_task("refcoco", dataclass=RefcocoConfig)
class RefcocoTask(UnivalTask):
    cfg: RefcocoConfig

    @property
    def generates_in_validation(self) -> bool:
        return self.cfg.eval_acc

    @property
    def thresholds(self) -> List[float]:
        return parse_thresholds(self.cfg.acc_thresh)

    def build_dataset(self, split: str, tsv):

        return RefcocoDataset(
            split,
            tsv,
            self.tokenizer,
            patch_image_size=self.cfg.patch_image_size,
            max_image_size=self.cfg.max_image_size,
            max_src_length=self.cfg.max_src_length,
            max_tgt_length=self.cfg.max_tgt_length,
            image_dir=self.cfg.image_dir,
            skip_bad_samples=self.cfg.skip_bad_samples,
            read_from_img_path=self.cfg.read_from_img_path,
        )

    def logit_masks(self) -> list:
        masks = super().logit_masks()
        if not self.cfg.unconstrained_bins:
            masks.append(
                BinTokensMask(
                    self.tokenizer.bin_offset, self.tokenizer.num_bins, self.tokenizer.eos
                )
            )
        return masks

    # ------------------------------------------------------------------ boxes
    def tokens_to_original_box(
        self, tokens: torch.Tensor, w_ratio: float, h_ratio: float
    ) -> List[float]:
        """The first 4 generated ids -> box in original pixels; fewer than 4 ids -> a zero box.
        Non-bin ids give k = id - bin_offset unchanged (the reference's behaviour)."""
        ids = [int(t) for t in tokens.tolist() if int(t) != self.tokenizer.eos][:4]
        if len(ids) < 4:
            return [0.0, 0.0, 0.0, 0.0]
        scale = self.cfg.max_image_size / (self.tokenizer.num_bins - 1)
        x0, y0, x1, y1 = ((i - self.tokenizer.bin_offset) * scale for i in ids)
        return [x0 / w_ratio, y0 / h_ratio, x1 / w_ratio, y1 / h_ratio]

    def generate_boxes(self, generator, models, sample) -> torch.Tensor:
        """(B, 4) predicted boxes in original-image pixels (best hypothesis per row)."""
        hypos = self.inference_step(generator, models, sample)
        w_ratios = sample["w_resize_ratios"].tolist()
        h_ratios = sample["h_resize_ratios"].tolist()
        boxes = [
            self.tokens_to_original_box(h[0]["tokens"], w, hr)
            for h, w, hr in zip(hypos, w_ratios, h_ratios)
        ]
        return torch.tensor(boxes, dtype=torch.float64).reshape(-1, 4)

    def box_statistics(self, pred: torch.Tensor, gt: torch.Tensor) -> Dict[str, float]:
        return grounding_statistics(
            pred,
            gt,
            self.thresholds,
            self.cfg.min_area_size,
            self.cfg.max_area_size,
            self.cfg.medium_area,
        )

    # ------------------------------------------------------------------ validation
    def validation_generation_scores(self, model, sample) -> Dict[str, float]:
        if not sample or "net_input" not in sample or "region_coords" not in sample:
            stats = self.box_statistics(torch.zeros(0, 4), torch.zeros(0, 4))
        else:
            boxes = self.generate_boxes(self.validation_generator(model), [model], sample)
            stats = self.box_statistics(boxes, sample["region_coords"].cpu())
            if self.cfg.eval_print_samples:
                logger.info(
                    "example box: %s, reference: %s",
                    boxes[0].tolist(),
                    sample["region_coords"][0].tolist(),
                )
        return {STAT_PREFIX + k: v for k, v in stats.items()}

    def reduce_generation_metrics(self, logging_outputs) -> None:
        keys = sorted({k for log in logging_outputs for k in log if k.startswith(STAT_PREFIX)})
        if not keys:
            return
        for key in keys:
            metrics.log_scalar_sum(key, utils.item(sum(log.get(key, 0) for log in logging_outputs)))
        first = f"acc@{self.thresholds[0]:g}"

        def derived(name):
            def compute(meters):
                stats = {
                    k[len(STAT_PREFIX) :]: float(m.sum)
                    for k, m in meters.items()
                    if k.startswith(STAT_PREFIX)
                }
                return round(accuracies_from_statistics(stats).get(name, 0.0), 4)

            return compute

        metrics.log_derived("score", derived(first))
        metrics.log_derived("miou", derived("miou"))
        for t in self.thresholds:
            metrics.log_derived(f"acc@{t:g}", derived(f"acc@{t:g}"))

    # ------------------------------------------------------------------ evaluation command
    def evaluate_split(
        self, models, generator, batches, use_cuda: bool = False, fp16: bool = False
    ):
        """The ``unival eval`` hook: (records, scores) over ``batches``.

        records: ``[{"uniq_id", "box": [x0, y0, x1, y1], "gt": [...]}]`` in original pixels;
        scores: ``acc@t`` (with size breakdowns), ``score`` (the first threshold), ``miou``,
        ``n``, ``nskipped``.
        """
        records, totals, nskipped = [], {}, 0
        for sample in batches:
            nskipped += int(sample.get("nskipped", 0)) if sample else 0
            if not sample or "net_input" not in sample:
                continue
            if use_cuda:
                sample = utils.move_to_cuda(sample)
                if fp16:
                    sample["net_input"] = utils.apply_to_sample(  # ratios and boxes stay fp32
                        lambda t: t.half() if t.dtype is torch.float32 else t, sample["net_input"]
                    )
            boxes = self.generate_boxes(generator, models, sample)
            gt = sample["region_coords"].cpu().double()
            for key, value in self.box_statistics(boxes, gt).items():
                totals[key] = totals.get(key, 0.0) + value
            ids = sample.get("uniq_ids") or [str(i) for i in sample["id"].tolist()]
            for uid, box, ref in zip(ids, boxes.tolist(), gt.tolist()):
                records.append({"uniq_id": uid, "box": [round(c, 2) for c in box], "gt": ref})
        scores = accuracies_from_statistics(totals)
        first = f"acc@{self.thresholds[0]:g}"
        scores["score"] = scores.get(first, 0.0)
        scores["n"] = int(totals.get("n", 0))
        scores["nskipped"] = nskipped
        return records, scores
