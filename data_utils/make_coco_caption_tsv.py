#!/usr/bin/env python
"""Karpathy-split COCO -> caption TSVs (uniq_id, image_id, caption, objects, image).

    python data_utils/make_coco_caption_tsv.py --dataset-json dataset_coco.json
        --image-dir COCO_ROOT --out-dir DIR [--splits train,val,test] [--no-restval]
        [--image-paths]

``COCO_ROOT`` holds the entries' ``filepath/filename`` (train2014/, val2014/). Writes
``caption_{split}.tsv`` and, for val/test, ``caption_{split}_gt.json`` (COCO references).
See :mod:`unival.data.convert.coco_caption`.
"""

from __future__ import annotations

import argparse
import sys

from unival.data.convert import coco_caption
from unival.data.convert.common import configure_script_logging


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset-json", required=True)
    parser.add_argument("--image-dir", required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--splits", default="train,val,test")
    parser.add_argument("--no-restval", action="store_true", help="leave restval out of train")
    parser.add_argument(
        "--image-paths", action="store_true", help="write relative image paths instead of base64"
    )
    args = parser.parse_args(argv)
    configure_script_logging()
    report = coco_caption.convert(
        args.dataset_json,
        args.image_dir,
        args.out_dir,
        tuple(s for s in args.splits.split(",") if s),
        restval_as_train=not args.no_restval,
        image_paths=args.image_paths,
    )
    report.log()
    return 0


if __name__ == "__main__":
    sys.exit(main())
