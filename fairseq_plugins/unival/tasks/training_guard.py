"""A guard against non-finite training losses (NaN/Inf), used by every UnIVAL task's train step.

fairseq treats a NaN/Inf loss under ``--fp16`` as a gradient overflow: it halves the loss scale
and retries on the next batch, which cannot help when the forward pass itself produced the
NaN, so the scale collapses until "Minimum loss scale reached". Without ``--fp16`` the run
stops at the first such batch. The guard checks the loss before the backward pass instead:
a non-finite batch is skipped (its backward is a zero loss that still reaches every trainable
parameter, so all ranks keep exchanging gradients), counted (``nonfinite`` in the training
logs), logged with its sample ids, and after ``limit`` such batches in a row training stops
with a FloatingPointError that says what happened.
"""

import logging
from typing import Dict, Tuple

import torch
from torch import Tensor, nn

logger = logging.getLogger(__name__)

#: logging-output entries of a skipped batch that must not carry its NaN into the logs
ZEROED = ("loss", "nll_loss", "sample_size", "ntokens", "nsentences")


class NonFiniteLossGuard:
    """Skips and counts batches with a NaN/Inf loss; raises after ``limit`` in a row
    (0: never skip)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.total = 0
        self.consecutive = 0

    def check(
        self,
        loss: Tensor,
        sample_size,
        logging_output: Dict,
        sample,
        model: nn.Module,
        update_num: int,
    ) -> Tuple[Tensor, object, Dict]:
        """(loss, sample_size, logging_output) to back-propagate: unchanged for a finite loss,
        else a zero loss over the trainable parameters with zeroed counts and ``nonfinite`` 1."""
        finite = bool(torch.isfinite(loss.detach()).all())
        logging_output["nonfinite"] = 0 if finite else 1
        if finite:
            self.consecutive = 0
            return loss, sample_size, logging_output
        self.total += 1
        self.consecutive += 1
        ids = _sample_ids(sample)
        message = (
            f"non-finite training loss ({loss.detach().float().sum().item()}) "
            f"at update {update_num} on "
            f"samples {ids}: {self.consecutive} such batch(es) in a row, {self.total} in total"
        )
        if self.consecutive > self.limit:
            raise FloatingPointError(
                f"{message}; stopping (--max-nonfinite-losses {self.limit}). "
                "The forward pass itself produced NaN/Inf: check these samples, the learning rate, "
                "or run in fp32/bf16 instead of fp16."
            )
        logger.warning(
            "%s: batch skipped (gradient zero; --max-nonfinite-losses %d)", message, self.limit
        )
        zero = sum(
            (p.sum() * 0.0 for p in model.parameters() if p.requires_grad), loss.new_zeros(())
        )
        for key in ZEROED:
            if key in logging_output:
                logging_output[key] = 0
        return zero, 0, logging_output


def _sample_ids(sample) -> list:
    """Sample ids of a batch (a dict, or the list of sub-batches of pretraining), at most 8."""
    batches = sample if isinstance(sample, (list, tuple)) else [sample]
    ids = []
    for batch in batches:
        if isinstance(batch, dict) and torch.is_tensor(batch.get("id")):
            ids.extend(batch["id"].tolist())
    return ids[:8]
