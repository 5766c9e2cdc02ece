#!/usr/bin/env python
"""MSR-VTT video-info JSON(s) -> video_caption TSVs (uniq_id, video_id, caption, -, video path).

    python data_utils/make_msrvtt_caption_tsv.py --json train_val_videodatainfo.json
        [--json test_videodatainfo.json] --video-dir MSRVTT/videos --out-dir OUT
        [--splits train,val,test] [--video-template "{video_id}.mp4"] [--decode]

Writes ``OUT/msrvtt_caption_{split}.tsv``: train one row per caption, val/test one row per
video with "&&"-joined references; the video column is relative to ``--video-dir`` (give it
as the task's ``--image-dir``). See :mod:`unival.data.convert.video_caption`.
"""

from __future__ import annotations

import argparse
import sys

from unival.data.convert import video_caption
from unival.data.convert.common import configure_script_logging


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="append", required=True, help="MSR-VTT JSON (repeatable)")
    parser.add_argument("--video-dir", required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--splits", default="train,val,test")
    parser.add_argument("--video-template", default=video_caption.DEFAULT_VIDEO_TEMPLATE)
    parser.add_argument(
        "--decode", action="store_true", help="also check every video decodes (slower)"
    )
    args = parser.parse_args(argv)
    configure_script_logging()
    report = video_caption.convert(
        args.json,
        args.video_dir,
        args.out_dir,
        splits=tuple(s for s in args.splits.split(",") if s),
        video_template=args.video_template,
        decode=args.decode,
    )
    report.log()
    return 0


if __name__ == "__main__":
    sys.exit(main())
