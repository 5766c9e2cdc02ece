#!/usr/bin/env python
"""VQAv2 questions + annotations -> a vqa_gen TSV (the OFA/UnIVAL VQA layout), and the
candidate pickle.

    python data_utils/make_vqa_tsv.py --questions Q.json --annotations A.json
        --image-dir COCO_SPLIT_DIR --out vqa_train.tsv
        [--candidates trainval_ans2label.pkl|answers.txt | --min-answer-count 9
         --count-from A1.json,A2.json] [--out-ans2label trainval_ans2label.pkl]
        [--keep-out-of-vocabulary] [--image-template "COCO_{subtype}_{image_id:012d}.jpg"]
        [--image-paths]

Confidences are the VQA soft scores of the annotators' normalised answers ("0.6|!+no&&...").
Without ``--candidates``, the candidates are the answers seen ``--min-answer-count`` times in
``--count-from`` (default: ``--annotations``). See :mod:`unival.data.convert.vqa`.
"""

from __future__ import annotations

import argparse
import logging
import sys

from unival.data.convert import vqa
from unival.data.convert.common import configure_script_logging, load_json

logger = logging.getLogger("make_vqa_tsv")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", required=True)
    parser.add_argument("--annotations", required=True)
    parser.add_argument("--image-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--candidates", default=None, help="pickle answer->label or text file")
    parser.add_argument("--min-answer-count", type=int, default=9)
    parser.add_argument("--count-from", default=None, help="comma list of annotation JSONs")
    parser.add_argument("--out-ans2label", default=None)
    parser.add_argument("--keep-out-of-vocabulary", action="store_true")
    parser.add_argument("--image-template", default=vqa.DEFAULT_IMAGE_TEMPLATE)
    parser.add_argument("--image-paths", action="store_true")
    args = parser.parse_args(argv)
    configure_script_logging()
    if args.candidates:
        candidates = vqa.load_candidates(args.candidates)
    else:
        sources = args.count_from.split(",") if args.count_from else [args.annotations]
        candidates = vqa.frequent_answers((load_json(p) for p in sources), args.min_answer_count)
    logger.info("%d candidate answers", len(candidates))
    if args.out_ans2label:
        vqa.write_ans2label(args.out_ans2label, candidates)
    report = vqa.convert(
        args.questions,
        args.annotations,
        args.image_dir,
        args.out,
        candidates,
        keep_out_of_vocabulary=args.keep_out_of_vocabulary,
        image_template=args.image_template,
        image_paths=args.image_paths,
    )
    report.log()
    return 0


if __name__ == "__main__":
    sys.exit(main())
