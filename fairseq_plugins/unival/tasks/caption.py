"""The ``caption`` task (image captioning: COCO, NoCaps).

Validation beam-searches every batch with ``--eval-args``, BPE-decodes, strips punctuation and
scores CIDEr-D and BLEU-4 against the "&&" references (both lowercased and punctuation-free,
:func:`unival.metrics.caption.simple_tokenize`). It logs ``cider`` and ``bleu4``, so
``--best-checkpoint-metric cider --maximize-best-checkpoint-metric`` selects checkpoints.

How the corpus scores survive batching (and data-parallel workers): the logging outputs
carry only sums. CIDEr-D uses document frequencies computed once from *all* references of
the validation file (every rank reads the whole reference column), so each image's score
is final when its batch is scored; ``cider = sum of scores / number of images`` then equals
pycocoevalcap's corpus CIDEr over the validation file. BLEU-4 sums its n-gram statistics.
(Rows skipped as bad still count towards the document frequencies.)

With ``--scst`` (self-critical training, :mod:`unival.criterions.scst_caption`) the training
rows are read like validation rows: every "&&" reference is kept in ``references``, and the
target is the first one; the generator comes from ``--scst-args``.
"""

import logging
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence

from fairseq import metrics
from fairseq.tasks import register_task

from unival.data.caption_dataset import CaptionDataset, split_references
from unival.data.errors import BadSampleError
from unival.data.tsv import TSVFile
from unival.metrics.caption import (
    CiderDocumentFrequency,
    add_bleu_stats,
    bleu4_from_stats,
    bleu_stats,
    cider_sentence,
    empty_bleu_stats,
    simple_tokenize,
)
from unival.tasks.base import UnivalTask
from unival.tasks.config import UnivalTaskConfig

logger = logging.getLogger(__name__)

CIDER_SUM, CIDER_COUNT = "_cider_sum", "_cider_cnt"
BLEU_PREFIX = "_bleu_"
CAPTION_FIELD = 2  # (uniq_id, image, caption) after --selected-cols


@dataclass
class CaptionConfig(UnivalTaskConfig):
    # Off by default like the reference: fairseq turns a bool field defaulting to True into a
    # store_false flag, so the scripts' ``--eval-cider`` would then switch scoring OFF.
    eval_cider: bool = field(
        default=False, metadata={"help": "score CIDEr-D in validation (logged as 'cider')"}
    )
    eval_bleu: bool = field(
        default=False, metadata={"help": "score BLEU-4 in validation (logged as 'bleu4')"}
    )
    read_from_img_path: bool = field(
        default=False, metadata={"help": "image column holds paths under --image-dir"}
    )
    scst: bool = field(
        default=False,
        metadata={
            "help": "self-critical training: training rows keep all '&&' references "
            "(for --criterion scst_reward_criterion)"
        },
    )
    scst_args: str = field(
        default="{}",
        metadata={"help": 'SCST generation args, JSON, e.g. \'{"beam":5,"max_len_b":16}\''},
    )


@register_task("caption", dataclass=CaptionConfig)
class CaptionTask(UnivalTask):
    cfg: CaptionConfig

    def __init__(self, cfg: CaptionConfig, tokenizer):
        super().__init__(cfg, tokenizer)
        self._cider_stats: Optional[CiderDocumentFrequency] = None

    @property
    def generates_in_validation(self) -> bool:
        return self.cfg.eval_cider or self.cfg.eval_bleu

    def build_dataset(self, split: str, tsv):

        return CaptionDataset(
            split,
            tsv,
            self.tokenizer,
            patch_image_size=self.cfg.patch_image_size,
            max_src_length=self.cfg.max_src_length,
            max_tgt_length=self.cfg.max_tgt_length,
            image_dir=self.cfg.image_dir,
            skip_bad_samples=self.cfg.skip_bad_samples,
            read_from_img_path=self.cfg.read_from_img_path,
            train_references=self.cfg.scst,
        )

    # ------------------------------------------------------------------ validation scores
    def cider_document_frequency(self) -> CiderDocumentFrequency:
        """CIDEr-D corpus statistics of the validation file's references (read once, no images
        decoded)."""
        if self._cider_stats is None:
            self._cider_stats = read_reference_statistics(
                self.path_for_split("valid"), self.cfg.selected_cols
            )
        return self._cider_stats

    def score_generation(
        self, hyps: Sequence[str], references: Sequence[Sequence[str]]
    ) -> Dict[str, float]:
        """Per-batch sums: CIDEr-D score sum and count, BLEU n-gram statistics."""
        out: Dict[str, float] = {}
        hyps = [simple_tokenize(h) for h in hyps]
        refs = [[simple_tokenize(r) for r in rs] for rs in references]
        if self.cfg.eval_cider:
            stats = self.cider_document_frequency() if hyps else None
            out[CIDER_SUM] = sum(cider_sentence(h, r, stats) for h, r in zip(hyps, refs))
            out[CIDER_COUNT] = len(hyps)
        if self.cfg.eval_bleu:
            total = empty_bleu_stats()
            for h, r in zip(hyps, refs):
                add_bleu_stats(total, bleu_stats(h, r))
            out.update({BLEU_PREFIX + k: v for k, v in total.items()})
        return out

    def reduce_generation_metrics(self, logging_outputs) -> None:
        def total(key):
            return sum(log.get(key, 0) for log in logging_outputs)

        if any(CIDER_COUNT in log for log in logging_outputs):
            metrics.log_scalar(CIDER_SUM, total(CIDER_SUM))
            metrics.log_scalar(CIDER_COUNT, total(CIDER_COUNT))
            metrics.log_derived("cider", _derived_cider)
        bleu_keys = sorted({k for log in logging_outputs for k in log if k.startswith(BLEU_PREFIX)})
        if bleu_keys:
            for key in bleu_keys:
                metrics.log_scalar(key, total(key))
            metrics.log_derived("bleu4", _derived_bleu4)


def _derived_cider(meters) -> float:
    count = float(meters[CIDER_COUNT].sum)  # float(): 0-d tensors after a multi-process all-reduce
    return round(float(meters[CIDER_SUM].sum) / count, 4) if count > 0 else 0.0


def _derived_bleu4(meters) -> float:
    stats = {
        k[len(BLEU_PREFIX) :]: float(m.sum) for k, m in meters.items() if k.startswith(BLEU_PREFIX)
    }
    return round(bleu4_from_stats(stats), 4) if stats.get("guess_1", 0) > 0 else 0.0


def read_reference_statistics(path: str, selected_cols: Optional[str]) -> CiderDocumentFrequency:
    """Document frequencies over every row's "&&" references of a caption TSV (all ranks' rows)."""

    tsv = TSVFile(path, selected_cols=selected_cols, expected_columns="infer")
    refs_per_image = []
    unreadable = 0
    for index in range(len(tsv)):
        try:
            row = tsv[index]
            refs_per_image.append(
                [simple_tokenize(r) for r in split_references(row[CAPTION_FIELD])]
            )
        except (BadSampleError, ValueError, IndexError) as error:
            unreadable += 1
            logger.debug("references of %s row %d unreadable: %s", path, index + 1, error)
    tsv.close()
    if unreadable:
        logger.warning(
            "%s: %d rows without readable references left out of CIDEr document frequencies",
            path,
            unreadable,
        )
    logger.info("CIDEr-D document frequencies from %d images of %s", len(refs_per_image), path)
    return CiderDocumentFrequency.from_references(refs_per_image)
