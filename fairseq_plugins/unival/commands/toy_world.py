"""Command line of the toy world (``unival toy-world`` and ``data_utils/toy_world.py``).

    --out DIR [--seed 0 --num-train 2000 --num-valid 100 --num-test 200 --image-size 64]
        [--with-media [--media-num-train 200 --media-num-valid 20 --media-num-test 40
                       --video-size 64 --num-frames 16]]

Writes, under ``DIR``, ``{caption,vqa,refcoco,snli_ve,pretrain}_{train,valid,test}.tsv``
(official layouts), ``scenes_{split}.json`` (ground truth), ``images/``,
``negative_sample/``, ``vqa_answers.txt``, ``vqa_ans2label.pkl``, ``baselines.json`` and
``dict.txt`` (see :mod:`unival.toy_world.build`); ``--with-media`` adds the video and audio
files (:mod:`unival.toy_world.media`); logs a summary, prints nothing.
"""

from __future__ import annotations

import argparse
import logging
import sys

from unival.toy_world.build import ToyWorldConfig, build_toy_world, build_toy_world_with_media
from unival.toy_world.media import ToyMediaConfig


def parse_args(argv=None) -> argparse.Namespace:
    defaults = ToyWorldConfig()
    parser = argparse.ArgumentParser(
        prog="toy_world", description="Write the synthetic toy world (shapes, texts, boxes)."
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--num-train", type=int, default=defaults.num_train)
    parser.add_argument("--num-valid", type=int, default=defaults.num_valid)
    parser.add_argument("--num-test", type=int, default=defaults.num_test)
    parser.add_argument("--image-size", type=int, default=defaults.image_size)
    media = ToyMediaConfig()
    parser.add_argument(
        "--with-media", action="store_true", help="also write videos and audio clips"
    )
    parser.add_argument("--media-num-train", type=int, default=media.num_train)
    parser.add_argument("--media-num-valid", type=int, default=media.num_valid)
    parser.add_argument("--media-num-test", type=int, default=media.num_test)
    parser.add_argument("--video-size", type=int, default=media.video_size)
    parser.add_argument("--num-frames", type=int, default=media.num_frames)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    # force: importing fairseq (text_to_speech task) already configured the root logger at DEBUG
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", force=True
    )
    config = ToyWorldConfig(
        seed=args.seed,
        num_train=args.num_train,
        num_valid=args.num_valid,
        num_test=args.num_test,
        image_size=args.image_size,
    )
    if args.with_media:
        media = ToyMediaConfig(
            seed=args.seed,
            num_train=args.media_num_train,
            num_valid=args.media_num_valid,
            num_test=args.media_num_test,
            video_size=args.video_size,
            num_frames=args.num_frames,
        )
        build_toy_world_with_media(args.out, config, media)
    else:
        build_toy_world(args.out, config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
