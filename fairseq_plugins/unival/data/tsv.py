"""Random-access TSV reading over a byte-offset index, sliced contiguously per rank.

The index (one ``int64`` per row start) is built in one streaming pass; rows are read with
``os.pread`` so one object serves any number of DataLoader workers (the descriptor is
reopened lazily in each process and never pickled).
"""

from __future__ import annotations

import logging
import os
from typing import Iterator, Sequence

import numpy as np

from unival.data.errors import BadSampleError

logger = logging.getLogger(__name__)

_CHUNK_BYTES = 1 << 24


def parse_selected_cols(selected_cols: str | Sequence[int] | None) -> list[int] | None:
    """``"0,4,2"`` or ``[0, 4, 2]`` -> ``[0, 4, 2]``; ``None``/``""`` -> ``None`` (all columns)."""
    if selected_cols is None:
        return None
    if isinstance(selected_cols, str):
        parts = [p.strip() for p in selected_cols.split(",") if p.strip()]
        return [int(p) for p in parts] or None
    return [int(c) for c in selected_cols]


def build_line_index(path: str | os.PathLike) -> np.ndarray:
    """Byte offsets of every line start plus the file size: (num_rows + 1,) int64.

    A final newline does not start an extra row; every other line (even an empty one) is a row.
    """
    starts = [np.zeros(1, dtype=np.int64)]
    position = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK_BYTES)
            if not chunk:
                break
            newlines = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
            starts.append(newlines.astype(np.int64) + position + 1)
            position += len(chunk)
    offsets = np.concatenate(starts)
    if offsets[-1] != position:  # last line has no trailing newline: close it at EOF
        offsets = np.append(offsets, np.int64(position))
    return offsets


def slice_bounds(num_rows: int, slice_id: int, slice_count: int) -> tuple[int, int]:
    """Contiguous ``[begin, end)`` of slice ``slice_id``; the first ``num_rows % slice_count``
    slices hold one extra row (like ``numpy.array_split``)."""
    if not 0 <= slice_id < slice_count:
        raise ValueError(f"slice_id {slice_id} outside [0, {slice_count})")
    base, extra = divmod(num_rows, slice_count)
    begin = slice_id * base + min(slice_id, extra)
    return begin, begin + base + (1 if slice_id < extra else 0)


class TSVRow(list):
    """The selected fields of one row (str), with where they came from.

    ``path``; ``line`` (1-based); ``columns[k]``: the file column of field ``k``.
    """

    def __init__(self, fields: Sequence[str], path: str, line: int, columns: Sequence[int]):
        super().__init__(fields)
        self.path = path
        self.line = line
        self.columns = list(columns)

    def error(self, position: int, reason: str, column_name: str | None = None) -> BadSampleError:
        """A :class:`BadSampleError` for field ``position`` of this row (to raise)."""
        return BadSampleError(self.path, self.line, self.columns[position], column_name, reason)

    def __reduce__(self):
        return (TSVRow, (list(self), self.path, self.line, self.columns))


class TSVFile:
    """Rows ``[begin, end)`` of a TSV file (this rank's slice), by random access.

    ``selected_cols`` picks and reorders columns (``"0,4,2"`` or a list); ``expected_columns``
    (the file's column count, or ``"infer"``: the count most of the file's first rows have)
    turns a row with another count (a stray tab shifts every later column) into
    :class:`BadSampleError`.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        selected_cols: str | Sequence[int] | None = None,
        slice_id: int = 0,
        slice_count: int = 1,
        expected_columns: int | str | None = None,
    ):
        self.path = os.fspath(path)
        self.selected_cols = parse_selected_cols(selected_cols)
        self.slice_id = slice_id
        self.slice_count = slice_count
        self._fd: int | None = None
        self._fd_pid: int | None = None
        self._offsets = build_line_index(self.path)
        self.total_rows = len(self._offsets) - 1
        if expected_columns == "infer":
            expected_columns = self.infer_column_count()
        self.expected_columns = expected_columns
        self.begin, self.end = slice_bounds(self.total_rows, slice_id, slice_count)
        logger.info(
            "%s: %d rows, slice %d/%d holds rows [%d, %d)",
            self.path,
            self.total_rows,
            slice_id,
            slice_count,
            self.begin,
            self.end,
        )

    def __len__(self) -> int:
        return self.end - self.begin

    def infer_column_count(self, rows: int = 100) -> int | None:
        """The column count most of the file's first ``rows`` readable rows have (ties: the
        earliest); ``None`` for a file with no readable row. Every rank reads the same rows."""
        counts: dict[int, int] = {}
        for row in range(min(rows, self.total_rows)):
            try:
                count = len(self.read_line(row).split("\t"))
            except BadSampleError:
                continue
            counts[count] = counts.get(count, 0) + 1
        return max(counts, key=counts.get) if counts else None

    def _descriptor(self) -> int:
        if self._fd is None or self._fd_pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDONLY)
            self._fd_pid = os.getpid()
        return self._fd

    def read_line(self, row: int) -> str:
        """The raw text of file row ``row`` (0-based over the whole file), newline stripped."""
        start, stop = int(self._offsets[row]), int(self._offsets[row + 1])
        data = os.pread(self._descriptor(), stop - start, start)
        if len(data) != stop - start:
            raise BadSampleError(self.path, row + 1, reason="file changed since it was indexed")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadSampleError(self.path, row + 1, reason=f"not UTF-8 ({error})") from None
        return text.rstrip("\n").rstrip("\r")

    def __getitem__(self, index: int) -> TSVRow:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"row {index} outside this slice of {len(self)} rows")
        row = self.begin + index
        fields = self.read_line(row).split("\t")
        line = row + 1
        if self.expected_columns is not None and len(fields) != self.expected_columns:
            raise BadSampleError(
                self.path,
                line,
                reason=(
                    f"expected {self.expected_columns} tab-separated columns (as the file's other "
                    f"rows have), found {len(fields)}: a stray tab or a missing field"
                ),
            )
        columns = self.selected_cols if self.selected_cols is not None else range(len(fields))
        for column in columns:
            if column >= len(fields):
                raise BadSampleError(
                    self.path, line, column, reason=(f"row has only {len(fields)} columns")
                )
        return TSVRow([fields[c] for c in columns], self.path, line, columns)

    def __iter__(self) -> Iterator[TSVRow]:
        for index in range(len(self)):
            yield self[index]

    def close(self) -> None:
        if self._fd is not None and self._fd_pid == os.getpid():
            os.close(self._fd)
        self._fd = None
        self._fd_pid = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_fd"] = None
        state["_fd_pid"] = None
        return state

    def __del__(self) -> None:
        fd, pid = self.__dict__.get("_fd"), self.__dict__.get("_fd_pid")
        if fd is not None and pid == os.getpid():
            os.close(fd)
