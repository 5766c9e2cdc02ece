"""SNLI-VE (JSONL + Flickr30k images) -> ``snli_ve`` TSV.

One row per pair with a gold label in {entailment, contradiction, neutral} (others, e.g.
"-", are skipped): uniq_id (consecutive integers from ``first_id``; the ``pairID`` strings
are not numeric), image_id (``Flickr30K_ID``), image (base64 of ``<id>.jpg`` or its path),
hypothesis (``sentence2``), premise caption (``sentence1``), label.
"""

from __future__ import annotations

import logging
import os
from typing import Iterator

from unival.data.convert.common import (
    ConversionReport,
    image_field,
    iter_jsonl,
    sanitize_text,
    write_tsv,
)

logger = logging.getLogger(__name__)

LABELS = ("entailment", "contradiction", "neutral")


def snli_ve_rows(
    jsonl: str | os.PathLike,
    image_dir: str | os.PathLike,
    first_id: int = 0,
    image_paths: bool = False,
    report: ConversionReport | None = None,
) -> Iterator[list[str]]:
    report = report if report is not None else ConversionReport()
    cache: dict[str, str] = {}
    uniq_id = first_id
    for line, record in iter_jsonl(jsonl):
        label = str(record.get("gold_label", "")).strip()
        if label not in LABELS:
            report.skip("no gold label", f"{jsonl}:{line} {label!r}")
            continue
        image_id = str(record["Flickr30K_ID"]).strip()
        hypothesis = sanitize_text(record.get("sentence2", ""))
        premise = sanitize_text(record.get("sentence1", ""))
        if not hypothesis:
            report.skip("empty hypothesis", f"{jsonl}:{line}")
            continue
        if image_id not in cache:
            name = f"{image_id}.jpg"
            try:
                cache = {
                    image_id: image_field(
                        os.path.join(image_dir, name), name if image_paths else None
                    )
                }
            except ValueError as error:
                report.skip("bad image", f"{jsonl}:{line} {error}")
                continue
        yield [str(uniq_id), image_id, cache[image_id], hypothesis, premise, label]
        uniq_id += 1


def convert(jsonl: str, image_dir: str, out_tsv: str, **kwargs) -> ConversionReport:
    report = ConversionReport()
    report.written[out_tsv] = write_tsv(
        out_tsv, snli_ve_rows(jsonl, image_dir, report=report, **kwargs)
    )
    return report
