"""``polynomial_decay_warmup_ratio``: OFA's polynomial decay with warmup as a ratio.

The schedule spans ``--max-epoch`` epochs of the real training data (unless
``--total-num-update`` is given):

    total  = sum over epochs e of ceil(ceil(ceil(rows_e / world) / batch) / update_freq_e)
    warmup = int(total * warmup_ratio)
    lr(u)  = peak * u / warmup                                         for u <= warmup
           = (peak - end) * (1 - (u - warmup) / (total - warmup))^power + end   before total
           = end                                                        from total on

``rows_e`` is the row count of epoch e's training file: for ``unify_task`` every ``--data``
path is a training file, for the other UnIVAL tasks all but the last (the validation file). Because
the recipe computes the schedule for 50 epochs and stops early, the LR stays near its peak.
"""

import logging
import math
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from fairseq.dataclass import FairseqDataclass
from fairseq.optim.lr_scheduler import FairseqLRScheduler, register_lr_scheduler
from omegaconf import II

logger = logging.getLogger(__name__)

ALL_FILES_TRAIN_TASKS = ("unify_task",)
_ROW_COUNTS: Dict[str, int] = {}


def count_rows(path: str) -> int:
    """Rows of a text file (lines; a last line without newline counts), cached per path."""
    path = os.path.abspath(path)
    if path not in _ROW_COUNTS:
        rows, last = 0, b"\n"
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 24), b""):
                rows += chunk.count(b"\n")
                last = chunk[-1:]
        _ROW_COUNTS[path] = rows + (0 if last == b"\n" else 1)
    return _ROW_COUNTS[path]


def schedule_total_updates(
    train_rows: Sequence[int],
    max_epoch: int,
    batch_size: int,
    update_freq: Sequence[int],
    world_size: int = 1,
) -> int:
    """Updates over ``max_epoch`` epochs; epoch e reads ``train_rows[(e-1) mod N]`` rows."""
    total = 0
    for epoch in range(1, max_epoch + 1):
        rows = train_rows[(epoch - 1) % len(train_rows)]
        batches = math.ceil(math.ceil(rows / world_size) / batch_size)
        total += math.ceil(batches / update_freq[min(epoch - 1, len(update_freq) - 1)])
    return total


@dataclass
class PolynomialDecayWarmupRatioConfig(FairseqDataclass):
    warmup_ratio: float = field(
        default=0.0, metadata={"help": "warm up over this fraction of all updates"}
    )
    end_learning_rate: float = field(default=0.0, metadata={"help": "learning rate to decay to"})
    power: float = field(default=1.0, metadata={"help": "decay exponent"})
    total_num_update: float = field(
        default=0,
        metadata={
            "help": "total updates of the schedule (0: max_epoch epochs of the training data)"
        },
    )
    lr: List[float] = II("optimization.lr")
    max_epoch: int = II("optimization.max_epoch")
    update_freq: List[int] = II("optimization.update_freq")
    batch_size: Optional[int] = II("dataset.batch_size")
    distributed_world_size: int = II("distributed_training.distributed_world_size")
    data: Optional[str] = II("task.data")
    task_name: Optional[str] = II("task._name")


@register_lr_scheduler("polynomial_decay_warmup_ratio", dataclass=PolynomialDecayWarmupRatioConfig)
class PolynomialDecayWarmupRatioSchedule(FairseqLRScheduler):
    def __init__(self, cfg: PolynomialDecayWarmupRatioConfig, optimizer):
        super().__init__(cfg, optimizer)
        if not 0 <= cfg.warmup_ratio < 1:
            raise ValueError(f"--warmup-ratio must be in [0, 1), got {cfg.warmup_ratio}")
        self.peak = cfg.lr[0]
        self.total: Optional[int] = int(cfg.total_num_update) if cfg.total_num_update > 0 else None
        self.warmup: Optional[int] = None
        self.optimizer.set_lr(self.lr_at(0) if self.total is not None else 0.0)

    def training_rows(self) -> List[int]:
        paths = [p for p in (self.cfg.data or "").split(",") if p]
        if not paths:
            raise ValueError("polynomial_decay_warmup_ratio needs --data or --total-num-update")
        if self.cfg.task_name not in ALL_FILES_TRAIN_TASKS and len(paths) > 1:
            paths = paths[:-1]
        return [count_rows(p) for p in paths]

    def ensure_schedule(self) -> None:
        """Fix total and warmup updates (from the data, on first use, unless given)."""
        if self.total is None:
            if not self.cfg.max_epoch or not self.cfg.batch_size:
                raise ValueError(
                    "polynomial_decay_warmup_ratio needs --max-epoch and --batch-size "
                    "(or --total-num-update)"
                )
            self.total = schedule_total_updates(
                self.training_rows(),
                self.cfg.max_epoch,
                self.cfg.batch_size,
                list(self.cfg.update_freq),
                self.cfg.distributed_world_size or 1,
            )
        if self.warmup is None:
            self.warmup = int(self.total * self.cfg.warmup_ratio)
            logger.info(
                "polynomial decay over %d updates, %d warmup (ratio %g), peak lr %g",
                self.total,
                self.warmup,
                self.cfg.warmup_ratio,
                self.peak,
            )

    def lr_at(self, num_updates: int) -> float:
        self.ensure_schedule()
        end = self.cfg.end_learning_rate
        if self.warmup > 0 and num_updates <= self.warmup:
            return self.peak * num_updates / self.warmup
        if num_updates >= self.total:
            return end
        remaining = 1 - (num_updates - self.warmup) / (self.total - self.warmup)
        return (self.peak - end) * remaining**self.cfg.power + end

    def step_begin_epoch(self, epoch):
        return self.optimizer.get_lr()

    def step(self, epoch, val_loss=None):
        super().step(epoch, val_loss)
        return self.optimizer.get_lr()

    def step_update(self, num_updates):
        lr = self.lr_at(num_updates)
        self.optimizer.set_lr(lr)
        return lr
