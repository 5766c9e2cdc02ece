#!/usr/bin/env python
"""MSRVTT-QA / MSVD-QA split JSONs -> video_vqa_gen TSVs and the candidate answers.

    python data_utils/make_video_qa_tsv.py --split train=train_qa.json --split val=val_qa.json
        --split test=test_qa.json --video-dir VIDEOS --out-dir OUT [--prefix msrvtt_qa]
        [--top-k 4000] [--count-from train,val] [--candidates ans2label.pkl|answers.txt]
        [--video-template "video{video_id}.mp4"] [--youtube-mapping youtube_mapping.txt]
        [--keep-out-of-vocabulary] [--decode]

Candidates (unless ``--candidates``): the ``--top-k`` most frequent answers of the
``--count-from`` splits, written to ``OUT/{prefix}_ans2label.pkl`` and ``_answers.txt``.
MSVD-QA: ``--youtube-mapping youtube_mapping.txt --video-template "{name}.avi"``.
See :mod:`unival.data.convert.video_qa`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from unival.data.convert import video_qa
from unival.data.convert.common import configure_script_logging, load_json
from unival.data.convert.vqa import load_candidates, write_ans2label

logger = logging.getLogger("make_video_qa_tsv")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", action="append", required=True, help="NAME=JSON (repeatable)")
    parser.add_argument("--video-dir", required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--prefix", default="msrvtt_qa")
    parser.add_argument("--top-k", type=int, default=4000)
    parser.add_argument(
        "--count-from", default="train,val", help="splits whose answers make the candidates"
    )
    parser.add_argument("--candidates", default=None, help="pickle answer->label or text file")
    parser.add_argument("--video-template", default=video_qa.MSRVTT_VIDEO_TEMPLATE)
    parser.add_argument("--youtube-mapping", default=None, help="MSVD youtube_mapping.txt")
    parser.add_argument("--keep-out-of-vocabulary", action="store_true")
    parser.add_argument(
        "--decode", action="store_true", help="also check every video decodes (slower)"
    )
    args = parser.parse_args(argv)
    configure_script_logging()
    splits = dict(item.split("=", 1) for item in args.split)
    if args.candidates:
        candidates = load_candidates(args.candidates)
    else:
        counted = [s for s in args.count_from.split(",") if s in splits]
        candidates = video_qa.frequent_answers(r for s in counted for r in load_json(splits[s]))
        candidates = candidates[: args.top_k]
        os.makedirs(args.out_dir, exist_ok=True)
        write_ans2label(os.path.join(args.out_dir, f"{args.prefix}_ans2label.pkl"), candidates)
        with open(
            os.path.join(args.out_dir, f"{args.prefix}_answers.txt"), "w", encoding="utf-8"
        ) as f:
            f.writelines(a + "\n" for a in candidates)
    logger.info("%d candidate answers", len(candidates))
    mapping = video_qa.read_youtube_mapping(args.youtube_mapping) if args.youtube_mapping else None
    report = video_qa.convert(
        splits,
        args.video_dir,
        args.out_dir,
        args.prefix,
        candidates,
        video_template=args.video_template,
        mapping=mapping,
        keep_out_of_vocabulary=args.keep_out_of_vocabulary,
        decode=args.decode,
    )
    report.log()
    return 0


if __name__ == "__main__":
    sys.exit(main())
