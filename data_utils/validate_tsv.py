#!/usr/bin/env python
"""Check every row of task TSV files; report ``file:line column c (name): reason``.

    python data_utils/validate_tsv.py --task caption FILE [FILE ...] [--image-dir DIR]

Checks the column count of the task's layout, that text columns are non-empty and that
every image column decodes and opens. Exits 1 when any row is bad, 0 otherwise.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Iterator

from unival.data.errors import BadSampleError
from unival.data.io.image import decode_image
from unival.data.schemas import SCHEMAS, TSVSchema, get_schema
from unival.data.tsv import TSVFile

logger = logging.getLogger("validate_tsv")

REQUIRED_TEXT = {"caption": ("uniq_id", "image_id", "caption")}


def row_errors(path: str, schema: TSVSchema, image_dir: str | None = None
               ) -> Iterator[BadSampleError]:
    """Every problem of every row of ``path`` under ``schema`` (several per row possible)."""
    tsv = TSVFile(path)
    for index in range(len(tsv)):
        line = index + 1
        try:
            fields = tsv[index]
        except BadSampleError as error:  # undecodable bytes
            yield error
            continue
        if not schema.accepts_column_count(len(fields)):
            yield BadSampleError(path, line, reason=(
                f"expected {schema.num_columns} tab-separated columns, found {len(fields)}"))
            continue
        for name in REQUIRED_TEXT.get(schema.task, ()):
            column = schema.column_index(name)
            if not fields[column].strip():
                yield BadSampleError(path, line, column, name, "empty")
        for name, kind in schema.media.items():
            if kind != "image":
                continue
            column = schema.column_index(name)
            try:
                decode_image(fields[column], image_dir)
            except ValueError as error:
                yield BadSampleError(path, line, column, name, str(error))


def validate_files(paths: list[str], task: str, image_dir: str | None = None,
                   max_reported: int = 50) -> int:
    """Log the errors of ``paths`` (at most ``max_reported`` each); return their total."""
    schema = get_schema(task)
    total = 0
    for path in paths:
        errors = 0
        for error in row_errors(path, schema, image_dir):
            errors += 1
            if errors <= max_reported:
                logger.error("%s", error)
        if errors > max_reported:
            logger.error("%s: %d more errors not shown", path, errors - max_reported)
        logger.info("%s: %s", path, f"{errors} bad field(s)" if errors else "ok")
        total += errors
    return total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", required=True, choices=sorted(SCHEMAS))
    parser.add_argument("--image-dir", default=None, help="root of image paths in the TSV")
    parser.add_argument("--max-reported", type=int, default=50, help="per file")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s",
                        force=True)  # fairseq's text_to_speech import sets DEBUG
    total = validate_files(args.files, args.task, args.image_dir, args.max_reported)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
