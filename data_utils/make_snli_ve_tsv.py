#!/usr/bin/env python
"""SNLI-VE JSONL + Flickr30k images -> an snli_ve TSV (the original SNLI-VE column layout).

    python data_utils/make_snli_ve_tsv.py --jsonl snli_ve_train.jsonl
        --image-dir flickr30k_images --out snli_ve_train.tsv [--first-id 0] [--image-paths]

Pairs without a gold label are skipped. See :mod:`unival.data.convert.snli_ve`.
"""

from __future__ import annotations

import argparse
import sys

from unival.data.convert import snli_ve
from unival.data.convert.common import configure_script_logging


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jsonl", required=True)
    parser.add_argument("--image-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--first-id", type=int, default=0)
    parser.add_argument("--image-paths", action="store_true")
    args = parser.parse_args(argv)
    configure_script_logging()
    report = snli_ve.convert(
        args.jsonl, args.image_dir, args.out, first_id=args.first_id, image_paths=args.image_paths
    )
    report.log()
    return 0


if __name__ == "__main__":
    sys.exit(main())
