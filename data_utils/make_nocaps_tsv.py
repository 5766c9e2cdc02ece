#!/usr/bin/env python
"""NoCaps val captions JSON -> caption TSVs (overall and per domain) for zero-shot evaluation.

    python data_utils/make_nocaps_tsv.py --captions nocaps_val_4500_captions.json
        --image-dir NOCAPS_VAL_IMAGES --out-dir DIR [--split val] [--image-paths]

Writes nocaps_val.tsv, nocaps_{indomain,neardomain,outdomain}_val.tsv, nocaps_val_domains.json
(for ``unival eval --domains``) and nocaps_val_caption_coco_format.json. See
:mod:`unival.data.convert.nocaps`; run_scripts/zero_shot/nocaps.sh evaluates them.
"""

from __future__ import annotations

import argparse
import sys

from unival.data.convert import nocaps
from unival.data.convert.common import configure_script_logging


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--captions", required=True, help="nocaps_val_4500_captions.json")
    parser.add_argument("--image-dir", required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument(
        "--image-paths", action="store_true", help="write relative paths instead of base64"
    )
    args = parser.parse_args(argv)
    configure_script_logging()
    nocaps.convert(args.captions, args.image_dir, args.out_dir, args.split, args.image_paths).log()
    return 0


if __name__ == "__main__":
    sys.exit(main())
