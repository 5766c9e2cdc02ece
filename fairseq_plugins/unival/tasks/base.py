"""``UnivalTask``: what every UnIVAL fairseq task shares (OFA's data conventions).

* one unified dictionary for source and target (:class:`unival.tokenizer.UnivalTokenizer`);
* ``--data train_1,...,train_N,valid``: epoch e trains on file (e-1) mod N, every other split
  (valid, test, ...) reads the last file; each file is sliced by data-parallel rank;
* batches are consecutive blocks of ``--batch-size`` rows; a rank short of batches gets an
  empty one so all ranks step together;
* generation (validation and ``fairseq-generate``) is fairseq's beam search starting from
  ``<s>`` with the ``--constraint-range`` mask (:mod:`unival.generation`);
* rows that fail to load with ``--skip-bad-samples`` are counted (``nskipped``, summed into
  the epoch statistics) and their reasons logged, never dropped silently.

A subclass implements :meth:`UnivalTask.build_dataset`; one that scores generated text in
validation sets ``generates_in_validation`` and implements :meth:`score_generation` and
:meth:`reduce_generation_metrics`.
"""

import inspect
import json
import logging
import math
import os
from argparse import Namespace
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from fairseq import metrics
from fairseq.data import FairseqDataset
from fairseq.distributed import utils as distributed_utils
from fairseq.optim.amp_optimizer import AMPOptimizer
from fairseq.tasks import FairseqTask

from unival.data.bad_rows import BadRowBudget
from unival.data.fork_safe_iterator import ForkSafeEpochBatchIterator
from unival.data.tsv import TSVFile
from unival.generation import ConstraintRangeMask, UnivalSequenceGenerator, parse_constraint_range
from unival.tasks.bpe_adapter import UnivalBPE
from unival.tasks.config import UnivalTaskConfig
from unival.tasks.rank_record import write_rank_record
from unival.tasks.skipped import SkippedSampleLog
from unival.tasks.training_guard import NonFiniteLossGuard
from unival.tokenizer import UnivalTokenizer

logger = logging.getLogger(__name__)


class UnivalTask(FairseqTask):
    """Shared UnIVAL task machinery; subclasses build their split datasets."""

    cfg: UnivalTaskConfig
    generates_in_validation: bool = False

    def __init__(self, cfg: UnivalTaskConfig, tokenizer):
        super().__init__(cfg)
        self.tokenizer = tokenizer
        self.tsv_files: Dict[str, Any] = {}
        self.skipped = SkippedSampleLog()
        self.nonfinite_guard = NonFiniteLossGuard(getattr(cfg, "max_nonfinite_losses", 10))
        self._valid_generator = None
        self._valid_generator_model = None

    # ------------------------------------------------------------------ set-up
    @classmethod
    def setup_task(cls, cfg: UnivalTaskConfig, **kwargs):

        dict_path = resolve_dict_path(cfg)
        encoder_json = vocab_bpe = None
        if cfg.bpe_dir:
            encoder_json = os.path.join(cfg.bpe_dir, "encoder.json")
            vocab_bpe = os.path.join(cfg.bpe_dir, "vocab.bpe")
        tokenizer = UnivalTokenizer.from_files(
            dict_path, encoder_json, vocab_bpe, num_codes=cfg.code_dict_size, num_bins=cfg.num_bins
        )
        cfg.dict_path = (
            dict_path  # saved with the checkpoint, so evaluation finds the same dictionary
        )
        logger.info(
            "%s: dictionary %s (%d types)", cls.__name__, dict_path, len(tokenizer.dictionary)
        )
        return cls(cfg, tokenizer)

    @property
    def source_dictionary(self):
        return self.tokenizer.dictionary

    @property
    def target_dictionary(self):
        return self.tokenizer.dictionary

    def max_positions(self):
        return (self.cfg.max_source_positions, self.cfg.max_target_positions)

    def build_bpe(self, args):
        """The task's GPT-2 BPE for fairseq-generate/interactive unless another ``--bpe`` is
        named."""
        name = getattr(args, "_name", None) if args is not None else None
        if name not in (None, "gpt2"):
            return super().build_bpe(args)
        return UnivalBPE(self.tokenizer.bpe)

    # ------------------------------------------------------------------ data
    def data_paths(self) -> List[str]:
        if not self.cfg.data:
            raise ValueError(f"{type(self).__name__} needs --data (a comma list of TSV files)")
        return [p for p in self.cfg.data.split(",") if p]

    def path_for_split(self, split: str, epoch: int = 1) -> str:
        """``train``: file (epoch-1) mod N of the first N; any other split: the last file."""
        paths = self.data_paths()
        if split != "train":
            return paths[-1]
        train_paths = paths[:-1] or paths
        return train_paths[(epoch - 1) % len(train_paths)]

    def has_sharded_data(self, split):
        """True when training rotates over several files (fairseq then reloads ``train`` per
        epoch)."""
        return split == "train" and len(self.data_paths()) > 2

    def load_dataset(self, split: str, epoch: int = 1, combine: bool = False, **kwargs):

        path = self.path_for_split(split, epoch)
        rank, world = data_parallel_rank_and_size()
        # every row must have the file's column count: a stray tab would shift the fields
        tsv = TSVFile(
            path,
            selected_cols=self.cfg.selected_cols,
            slice_id=rank,
            slice_count=world,
            expected_columns="infer",
        )
        logger.info(
            "split %s (epoch %d): %s, %d of %d rows on rank %d",
            split,
            epoch,
            path,
            len(tsv),
            tsv.total_rows,
            rank,
        )
        self.tsv_files[split] = tsv
        dataset = self.build_dataset(split, tsv)
        if getattr(dataset, "skip_bad_samples", False):
            dataset.bad_row_budget = BadRowBudget(path, self.cfg.max_bad_sample_fraction)
        self.datasets[split] = dataset

    def build_dataset(self, split: str, tsv) -> FairseqDataset:
        """The dataset of ``split`` over this rank's ``tsv`` slice."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_dataset")

    def get_batch_iterator(
        self,
        dataset,
        max_tokens=None,
        max_sentences=None,
        max_positions=None,
        ignore_invalid_inputs=False,
        required_batch_size_multiple=1,
        seed=1,
        num_shards=1,
        shard_id=0,
        num_workers=0,
        epoch=1,
        data_buffer_size=0,
        disable_iterator_cache=False,
        skip_remainder_batch=False,
        grouped_shuffling=False,
        update_epoch_batch_itr=False,
    ):
        """Consecutive blocks of ``max_sentences`` rows of this rank's slice (the data are
        pre-sharded)."""
        if not max_sentences:
            raise ValueError(
                "UnIVAL tasks batch by rows: pass --batch-size (and --batch-size-valid if needed)"
            )
        reuse = (
            not disable_iterator_cache
            and not update_epoch_batch_itr
            and self.can_reuse_epoch_itr(dataset)
        )
        if reuse and dataset in self.dataset_to_epoch_iter:
            return self.dataset_to_epoch_iter[dataset]
        dataset.set_epoch(epoch)
        batches = consecutive_batches(len(dataset), max_sentences)
        total_rows = self._total_rows(dataset)
        if total_rows is not None:
            wanted = math.ceil(math.ceil(total_rows / num_shards) / max_sentences)
            batches += [[] for _ in range(wanted - len(batches))]
        epoch_iter = ForkSafeEpochBatchIterator(
            dataset=dataset,
            collate_fn=dataset.collater,
            batch_sampler=batches,
            seed=seed,
            num_shards=1,
            shard_id=0,
            num_workers=num_workers,
            epoch=epoch,
            buffer_size=data_buffer_size,
            skip_remainder_batch=skip_remainder_batch,
        )
        if reuse:
            self.dataset_to_epoch_iter[dataset] = epoch_iter
        return epoch_iter

    def _total_rows(self, dataset) -> Optional[int]:
        for split, candidate in self.datasets.items():
            if candidate is dataset and split in self.tsv_files:
                return self.tsv_files[split].total_rows
        return None

    # ------------------------------------------------------------------ steps
    def train_step(
        self, sample, model, criterion, optimizer, update_num, ignore_grad=False, **extra_kwargs
    ):
        """fairseq's train step, passing ``update_num`` to criterions that take it (drop-worst)."""
        model.train()
        model.set_num_updates(update_num)
        kwargs = {"update_num": update_num} if _accepts_update_num(criterion) else {}
        with torch.autograd.profiler.record_function("forward"):
            with torch.autocast("cuda", enabled=isinstance(optimizer, AMPOptimizer)):
                loss, sample_size, logging_output = criterion(model, sample, **kwargs)
        loss, sample_size, logging_output = self.nonfinite_guard.check(
            loss, sample_size, logging_output, sample, model, update_num
        )
        if ignore_grad:
            loss *= 0
        with torch.autograd.profiler.record_function("backward"):
            optimizer.backward(loss)
        logging_output["nskipped"] = self.skipped.record("train", sample)
        return loss, sample_size, logging_output

    @property
    def uses_ema(self) -> bool:
        """fairseq hands ``ema_model`` to :meth:`valid_step` when this is True and
        ``--store-ema`` is on."""
        return self.cfg.validate_with_ema

    def valid_step(self, sample, model, criterion, ema_model=None, **extra_kwargs):
        """Loss on the batch, plus generated-text scores when the subclass asks for them."""
        if ema_model is not None:
            model = ema_model
        model.eval()
        with torch.no_grad():
            loss, sample_size, logging_output = criterion(model, sample)
            logging_output["nskipped"] = self.skipped.record("valid", sample)
            if self.generates_in_validation:
                logging_output.update(self.validation_generation_scores(model, sample))
        return loss, sample_size, logging_output

    def validation_generation_scores(self, model, sample) -> Dict[str, float]:
        """Beam-search the batch with ``--eval-args`` and score it; zero counts for batches
        without references."""
        references = sample.get("references") if isinstance(sample, dict) else None
        if not references or "net_input" not in sample:
            return self.score_generation([], [])
        generator = self.validation_generator(model)
        hyps = self.generate_texts(generator, [model], sample)
        if self.cfg.eval_print_samples and hyps:
            logger.info("example hypothesis: %s", hyps[0])
            logger.info("example reference: %s", " && ".join(references[0]))
        return self.score_generation(hyps, references)

    def validation_generator(self, model):
        if self._valid_generator is None or self._valid_generator_model is not model:
            gen_args = Namespace(**json.loads(self.cfg.eval_args or "{}"))
            self._valid_generator = self.build_generator([model], gen_args)
            self._valid_generator_model = model
        return self._valid_generator

    def generate_texts(self, generator, models, sample) -> List[str]:
        """The best hypothesis of every row of ``sample``, BPE-decoded (one str per row)."""
        hypos = self.inference_step(generator, models, sample)
        return [self.tokenizer.decode(h[0]["tokens"]).strip() for h in hypos]

    def score_generation(
        self, hyps: Sequence[str], references: Sequence[Sequence[str]]
    ) -> Dict[str, float]:
        """Summable statistics (numbers only) of one batch; the same keys for an empty batch."""
        raise NotImplementedError(
            f"{type(self).__name__} generates in validation but does not score"
        )

    def reduce_generation_metrics(self, logging_outputs) -> None:
        """Log the metrics derived from :meth:`score_generation`'s summed statistics."""

    # ------------------------------------------------------------------ generation
    def logit_masks(self) -> list:
        """Per-step masks applied during generation (subclasses may add e.g. an answer trie)."""
        rng = parse_constraint_range(self.cfg.constraint_range, self.target_dictionary)
        return [ConstraintRangeMask(*rng)] if rng is not None else []

    def build_generator(
        self,
        models,
        args,
        seq_gen_cls=None,
        extra_gen_cls_kwargs=None,
        prefix_allowed_tokens_fn=None,
    ):
        """fairseq's search strategies with :class:`UnivalSequenceGenerator` (BOS start + logit
        masks)."""
        extra = dict(extra_gen_cls_kwargs or {})
        if seq_gen_cls is None:
            seq_gen_cls = UnivalSequenceGenerator
        if isinstance(seq_gen_cls, type) and issubclass(seq_gen_cls, UnivalSequenceGenerator):
            extra.setdefault("logit_masks", self.logit_masks())
        return super().build_generator(
            models,
            args,
            seq_gen_cls=seq_gen_cls,
            extra_gen_cls_kwargs=extra,
            prefix_allowed_tokens_fn=prefix_allowed_tokens_fn,
        )

    # ------------------------------------------------------------------ metrics
    def begin_epoch(self, epoch, model):
        self.skipped.summarise("train", f"training before epoch {epoch}")
        self.skipped.summarise("valid", f"validation before epoch {epoch}")

    def begin_valid_epoch(self, epoch, model):
        """Validation runs at the end of each epoch: report the epoch's skipped training rows
        (and write this rank's record under ``UNIVAL_RANK_RECORD_DIR``,
        :mod:`unival.tasks.rank_record`)."""
        write_rank_record(model, epoch)
        self.skipped.summarise("train", f"epoch {epoch} training")
        self.skipped.summarise("valid", "the previous validation")

    def reduce_metrics(self, logging_outputs, criterion):
        super().reduce_metrics(logging_outputs, criterion)
        nonfinite = sum(log.get("nonfinite", 0) for log in logging_outputs)
        if nonfinite:
            metrics.log_scalar_sum("nonfinite", nonfinite, priority=200)
        nskipped = sum(log.get("nskipped", 0) for log in logging_outputs)
        if nskipped:
            metrics.log_scalar_sum("nskipped", nskipped, priority=200)
        if self.generates_in_validation:
            self.reduce_generation_metrics(logging_outputs)


def resolve_dict_path(cfg: UnivalTaskConfig) -> str:
    """``--dict-path``, else ``dict.txt`` beside the first data file; FileNotFoundError naming
    both."""
    if cfg.dict_path:
        candidate = cfg.dict_path
    elif cfg.data:
        candidate = os.path.join(os.path.dirname(cfg.data.split(",")[0]), "dict.txt")
    else:
        raise ValueError(
            "set --dict-path or --data (dict.txt is looked up beside the first data file)"
        )
    if not os.path.isfile(candidate):
        raise FileNotFoundError(f"dictionary {candidate} not found: pass --dict-path")
    return os.path.abspath(candidate)


def data_parallel_rank_and_size() -> Tuple[int, int]:
    """(rank, world size) of the data-parallel group; (0, 1) outside distributed runs."""
    if not torch.distributed.is_initialized():
        return 0, 1
    return (
        distributed_utils.get_data_parallel_rank(),
        distributed_utils.get_data_parallel_world_size(),
    )


def consecutive_batches(num_rows: int, batch_size: int) -> List[List[int]]:
    """[[0..b-1], [b..2b-1], ...] covering ``num_rows`` rows; the last block may be shorter."""
    return [list(range(i, min(i + batch_size, num_rows))) for i in range(0, num_rows, batch_size)]


def _accepts_update_num(criterion) -> bool:
    parameters = inspect.signature(criterion.forward).parameters
    return "update_num" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())
