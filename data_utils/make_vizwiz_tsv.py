#!/usr/bin/env python
"""VizWiz VQA annotations (val.json) -> a vqa_gen TSV for zero-shot evaluation.

    python data_utils/make_vizwiz_tsv.py --annotations val.json --image-dir val/
        --out vizwiz_acc_val.tsv
        [--out-ans2label vizwiz_trainval_ans2label.pkl --min-answer-count 1] [--image-paths]

question_id = position in the file, image_id = image file stem; confidences are VQA soft
scores. See :mod:`unival.data.convert.zero_shot_vqa`; run_scripts/zero_shot/vizwiz.sh evaluates it.
"""

from __future__ import annotations

import argparse
import sys

from unival.data.convert import zero_shot_vqa
from unival.data.convert.common import configure_script_logging


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", required=True, help="VizWiz val.json (or train.json)")
    parser.add_argument("--image-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--out-ans2label", help="also write {answer: index} of the file's answers")
    parser.add_argument("--min-answer-count", type=int, default=1)
    parser.add_argument("--image-paths", action="store_true")
    args = parser.parse_args(argv)
    configure_script_logging()
    zero_shot_vqa.convert_vizwiz(
        args.annotations,
        args.image_dir,
        args.out,
        args.image_paths,
        args.out_ans2label,
        args.min_answer_count,
    ).log()
    return 0


if __name__ == "__main__":
    sys.exit(main())
