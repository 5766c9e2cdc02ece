#!/usr/bin/env python
"""Check every row of task TSV files; report ``file:line column c (name): reason``.

    python data_utils/validate_tsv.py --task caption|vqa_gen|refcoco|snli_ve|unify_task|...
        FILE [FILE ...] [--image-dir DIR] [--ans2label FILE] [--no-media]

Checks the task's column layout, the answers / box / label formats and that every image
decodes (videos: the frame index reads; audio: every sample decodes); see
:mod:`unival.data.convert.validate`.
``--ans2label`` (pickle or one answer a line) also requires each row's best answer to be a
candidate. Exits 1 when any row is bad, 0 otherwise.
"""

from __future__ import annotations

import argparse
import sys

from unival.data.convert.common import configure_script_logging
from unival.data.convert.validate import task_schemas, validate_files
from unival.data.convert.vqa import load_candidates


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", required=True, choices=sorted(task_schemas()))
    parser.add_argument("--image-dir", default=None, help="root of media paths in the TSV")
    parser.add_argument("--ans2label", default=None, help="candidate answers (vqa/unify qa)")
    parser.add_argument("--no-media", action="store_true", help="skip decoding media")
    parser.add_argument("--max-reported", type=int, default=50, help="per file")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    configure_script_logging()
    candidates = set(load_candidates(args.ans2label)) if args.ans2label else None
    total = validate_files(
        args.files,
        args.task,
        args.image_dir,
        candidates,
        check_media=not args.no_media,
        max_reported=args.max_reported,
    )
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
