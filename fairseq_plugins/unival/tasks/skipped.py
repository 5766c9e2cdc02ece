"""Bookkeeping for rows skipped under ``--skip-bad-samples``: count them, report why."""

import logging
from collections import Counter, defaultdict
from typing import Any, Dict, List

logger = logging.getLogger(__name__)


class SkippedSampleLog:
    """Per phase ("train", "valid"): rows skipped since the last summary, with their reasons.

    The dataset logs each bad row when it reads it (possibly in a DataLoader worker); this
    log keeps the count and the first ``max_kept`` reasons seen by the task, and
    :meth:`summarise` reports them together (the task calls it at the end of each pass).
    """

    def __init__(self, max_kept: int = 20):
        self.max_kept = max_kept
        self.counts: Counter = Counter()
        self.reasons: Dict[str, List[str]] = defaultdict(list)

    def record(self, phase: str, sample: Any) -> int:
        """Count the skipped rows of a batch (a dict, or a list of dicts); return the count."""
        batches = sample if isinstance(sample, (list, tuple)) else [sample]
        total = 0
        for batch in batches:
            if not isinstance(batch, dict):
                continue
            total += int(batch.get("nskipped", 0) or 0)
            room = self.max_kept - len(self.reasons[phase])
            if room > 0:
                self.reasons[phase].extend(list(batch.get("skipped") or [])[:room])
        self.counts[phase] += total
        return total

    def summarise(self, phase: str, label: str) -> int:
        """Log how many ``phase`` rows were skipped during ``label``, with the kept reasons;
        reset."""
        count = self.counts.pop(phase, 0)
        reasons = self.reasons.pop(phase, [])
        if count:
            shown = "; ".join(reasons)
            more = f" (first {len(reasons)} shown)" if count > len(reasons) else ""
            logger.warning(
                "%s: %d bad %s sample(s) skipped%s: %s", label, count, phase, more, shown
            )
        return count
