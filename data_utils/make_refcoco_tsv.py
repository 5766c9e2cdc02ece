#!/usr/bin/env python
"""RefCOCO/+/g refs + COCO instances -> refcoco TSVs (uniq_id, image_id, text, box, image).

    python data_utils/make_refcoco_tsv.py --refs "refs(unc).p" --instances instances.json
        --image-dir COCO_TRAIN2014_DIR --out-dir DIR [--splits train,val,testA,testB]
        [--image-paths]

Writes ``refcoco_{split}.tsv`` (boxes "x0,y0,x1,y1" in original pixels). See
:mod:`unival.data.convert.refcoco`.
"""

from __future__ import annotations

import argparse
import sys

from unival.data.convert import refcoco
from unival.data.convert.common import configure_script_logging


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refs", required=True)
    parser.add_argument("--instances", required=True)
    parser.add_argument("--image-dir", required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--splits", default=None, help="default: every split in the refs")
    parser.add_argument("--image-paths", action="store_true")
    args = parser.parse_args(argv)
    configure_script_logging()
    splits = tuple(s for s in args.splits.split(",") if s) if args.splits else None
    report = refcoco.convert(
        args.refs,
        args.instances,
        args.image_dir,
        args.out_dir,
        splits,
        image_paths=args.image_paths,
    )
    report.log()
    return 0


if __name__ == "__main__":
    sys.exit(main())
