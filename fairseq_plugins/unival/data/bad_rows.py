"""A ceiling on the share of bad rows a ``--skip-bad-samples`` run tolerates.

Skipping keeps a multi-day run alive through a few corrupt rows; but when most rows are bad
(a wrong ``--selected-cols``, the wrong file) skipping would quietly train on almost nothing.
:class:`BadRowBudget` counts the rows a dataset reads and the ones it skipped, and stops the
run with :class:`TooManyBadRowsError` once more than ``fraction`` of the rows read so far
were bad, counted from the ``min_bad``-th bad row on (so that 1 bad row among the first 10
does not stop a run at 10%). Each process (rank, DataLoader worker) counts its own rows.
"""

from __future__ import annotations


class TooManyBadRowsError(RuntimeError):
    """More than the allowed fraction of the rows read were bad."""


class BadRowBudget:
    """Rows read and skipped by one dataset in one process; raises past the allowed share."""

    def __init__(self, path: str, fraction: float = 0.01, min_bad: int = 10):
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"--max-bad-sample-fraction must lie in [0, 1], got {fraction}")
        self.path = path
        self.fraction = fraction
        self.min_bad = min_bad
        self.read = 0
        self.bad = 0

    def record(self, bad: bool, reason: str = "") -> None:
        """Count one row read (``bad``: it was skipped); raise when the share is exceeded."""
        self.read += 1
        if not bad:
            return
        self.bad += 1
        if self.bad >= self.min_bad and self.bad > self.fraction * self.read:
            raise TooManyBadRowsError(
                f"{self.path}: {self.bad} of the {self.read} rows read so far are bad "
                f"({100.0 * self.bad / self.read:.1f}%, over the --max-bad-sample-fraction "
                f"limit of {100.0 * self.fraction:g}%); check --selected-cols and the file's "
                f"columns. Last bad row: {reason}"
            )
