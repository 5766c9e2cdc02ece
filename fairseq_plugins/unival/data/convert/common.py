"""Shared pieces of the converters: image fields, boxes, text sanitising, TSV writing."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

from unival.data.io.image import IMAGE_DECODE_ERRORS, open_image

logger = logging.getLogger(__name__)


def sanitize_text(text: str) -> str:
    """Tabs, carriage returns and newlines -> spaces; surrounding whitespace stripped (a TSV
    field must not hold them)."""
    return " ".join(str(text).replace("\t", " ").replace("\r", " ").replace("\n", " ").split())


def format_number(value: float) -> str:
    """At most two decimals, no trailing zeros: 10.0 -> "10", 3.456 -> "3.46"."""
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_box(box: Sequence[float]) -> str:
    """``(x0, y0, x1, y1)`` -> ``"x0,y0,x1,y1"`` (the TSV region format)."""
    if len(box) != 4:
        raise ValueError(f"a box has 4 coordinates, got {len(box)}")
    return ",".join(format_number(v) for v in box)


def xywh_to_xyxy(box: Sequence[float]) -> tuple[float, float, float, float]:
    """COCO ``[x, y, w, h]`` -> ``(x0, y0, x1, y1)``."""
    x, y, w, h = (float(v) for v in box)
    return (x, y, x + w, y + h)


def image_field(path: str | os.PathLike, as_path: str | None = None, check: bool = True) -> str:
    """An image file -> its TSV field: URL-safe base64 of the file's bytes (not re-encoded),
    or ``as_path`` (a path to write instead, for ``--read-from-img-path`` data).

    ``check`` opens the image header; ValueError names the file when it is missing or not
    an image."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"image file not found: {path}")
    if check or as_path is None:
        with open(path, "rb") as f:
            data = f.read()
    if check:
        try:
            with open_image(io.BytesIO(data), path) as img:
                img.verify()
        except IMAGE_DECODE_ERRORS as error:
            raise ValueError(f"{path} is not a readable image ({error})") from None
    if as_path is not None:
        return as_path
    return base64.urlsafe_b64encode(data).decode("ascii")


def write_tsv(path: str | os.PathLike, rows: Iterable[Sequence[str]]) -> int:
    """Write tab-separated rows (one per line, ``\\n`` endings); returns the row count.

    ValueError when a field holds a tab or newline (it would break the layout)."""
    count = 0
    directory = os.path.dirname(os.fspath(path))
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            for value in row:
                if "\t" in value or "\n" in value or "\r" in value:
                    raise ValueError(f"a TSV field holds a tab or newline: {value[:40]!r}")
            f.write("\t".join(row) + "\n")
            count += 1
    return count


def load_json(path: str | os.PathLike):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """``(line_number, record)`` of every non-empty line of a JSON-lines file."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}:{number}: not JSON ({error})") from None


@dataclass
class ConversionReport:
    """Rows written per output file and rows skipped per reason (logged by :meth:`log`)."""

    written: dict = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)  # reason -> first example

    def skip(self, reason: str, example: str) -> None:
        self.skipped[reason] += 1
        self.examples.setdefault(reason, example)

    def log(self) -> None:
        for path, count in self.written.items():
            logger.info("wrote %d rows to %s", count, path)
        for reason, count in self.skipped.items():
            logger.warning("skipped %d rows: %s (first: %s)", count, reason, self.examples[reason])


def configure_script_logging() -> None:
    """INFO to stderr for the command lines (fairseq's import may have set DEBUG)."""
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", force=True
    )
