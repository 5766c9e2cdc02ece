"""The one error type for bad input rows, naming file, line and column."""

from __future__ import annotations

import os


class BadSampleError(ValueError):
    """A TSV row that cannot be turned into a sample.

    ``str()`` reads like ``data/train.tsv:12 column 4 (image): undecodable base64 (...)``
    (the path as given);
    ``line`` is 1-based, ``column`` is the 0-based index in the file (``None`` when the
    problem is the row as a whole, e.g. a wrong column count).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        line: int,
        column: int | None = None,
        column_name: str | None = None,
        reason: str = "",
    ):
        self.path = os.fspath(path)
        self.line = line
        self.column = column
        self.column_name = column_name
        self.reason = reason
        super().__init__(self.location() + (f": {reason}" if reason else ""))

    def location(self) -> str:
        """``file:line`` plus ``column c (name)`` where known."""
        where = f"{self.path}:{self.line}"
        if self.column is not None:
            where += f" column {self.column}"
        if self.column_name:
            where += f" ({self.column_name})"
        return where

    def __reduce__(self):  # picklable across DataLoader workers
        return (type(self), (self.path, self.line, self.column, self.column_name, self.reason))
