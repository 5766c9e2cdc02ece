#!/usr/bin/env python
"""OK-VQA questions + annotations (VQAv2 layout, COCO val2014 images) -> a vqa_gen TSV.

    python data_utils/make_okvqa_tsv.py --questions OpenEnded_mscoco_val2014_questions.json
        --annotations mscoco_val2014_annotations.json --image-dir val2014 --out okvqa_acc_val.tsv
        [--out-ans2label okvqa_trainval_ans2label.pkl --min-answer-count 1] [--image-paths]

Every answer is kept (zero-shot decoding is unconstrained). See
:mod:`unival.data.convert.zero_shot_vqa`; run_scripts/zero_shot/okvqa.sh evaluates it.
"""

from __future__ import annotations

import argparse
import sys

from unival.data.convert import zero_shot_vqa
from unival.data.convert.common import configure_script_logging


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", required=True)
    parser.add_argument("--annotations", required=True)
    parser.add_argument("--image-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--out-ans2label")
    parser.add_argument("--min-answer-count", type=int, default=1)
    parser.add_argument("--image-template", default="COCO_{subtype}_{image_id:012d}.jpg")
    parser.add_argument("--image-paths", action="store_true")
    args = parser.parse_args(argv)
    configure_script_logging()
    zero_shot_vqa.convert_okvqa(
        args.questions,
        args.annotations,
        args.image_dir,
        args.out,
        args.image_paths,
        args.out_ans2label,
        args.min_answer_count,
        args.image_template,
    ).log()
    return 0


if __name__ == "__main__":
    sys.exit(main())
