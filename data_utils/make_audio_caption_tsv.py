#!/usr/bin/env python
"""AudioCaps or Clotho caption CSV -> an audio_caption TSV
(uniq_id, audio_id, caption, -, audio path).

    python data_utils/make_audio_caption_tsv.py --dataset audiocaps|clotho --csv FILE.csv
        --split train|val|test --audio-dir AUDIO --out OUT.tsv
        [--audio-template "{youtube_id}.wav"] [--decode]

AudioCaps: audiocap_id, youtube_id, start_time, caption (clips grouped by youtube id and start
time; ``--audio-template`` may use youtube_id, start_time, audiocap_id). Clotho: file_name,
caption_1..caption_5. Train: one row per caption; val/test: one row per clip, "&&"-joined.
The audio column is relative to ``--audio-dir`` (the task's ``--image-dir``).
See :mod:`unival.data.convert.audio_caption`.
"""

from __future__ import annotations

import argparse
import sys

from unival.data.convert import audio_caption
from unival.data.convert.common import configure_script_logging


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, choices=("audiocaps", "clotho"))
    parser.add_argument("--csv", required=True)
    parser.add_argument("--split", required=True, choices=("train", "val", "test"))
    parser.add_argument("--audio-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--audio-template",
        default=audio_caption.DEFAULT_AUDIOCAPS_TEMPLATE,
        help="AudioCaps file name pattern",
    )
    parser.add_argument(
        "--decode", action="store_true", help="also check every clip decodes (slower)"
    )
    args = parser.parse_args(argv)
    configure_script_logging()
    if args.dataset == "audiocaps":
        report = audio_caption.convert_audiocaps(
            args.csv,
            args.split,
            args.audio_dir,
            args.out,
            audio_template=args.audio_template,
            decode=args.decode,
        )
    else:
        report = audio_caption.convert_clotho(
            args.csv, args.split, args.audio_dir, args.out, decode=args.decode
        )
    report.log()
    return 0


if __name__ == "__main__":
    sys.exit(main())
