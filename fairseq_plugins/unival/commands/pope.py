"""``unival pope build``: write POPE yes/no probe TSVs (see :mod:`unival.probes.pope`).

    unival pope build --gt instances_val2014.json --image-dir val2014 --out DIR
        [--strategies random,popular,adversarial] [--per-image 3] [--seed 0] [--max-images N]
        [--template "is there a {object} in the image?"]
    unival pope build --gt toy/scenes_test.json --out DIR          # toy world: images re-rendered

Then, with a VQA checkpoint:
``unival eval CKPT --data DIR/pope_random.tsv --results-path R --metric pope``.
"""

import argparse
import json
import logging
import sys
from typing import Optional, Sequence

from unival.probes.ground_truth import load_ground_truth
from unival.probes.pope import STRATEGIES, build_pope


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unival pope", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    build = sub.add_parser("build", help="write pope_<strategy>.tsv and .labels.json files")
    build.add_argument("--gt", required=True, help="COCO instances JSON or toy-world scenes JSON")
    build.add_argument("--out", required=True, help="output directory")
    build.add_argument("--image-dir", help="COCO: the directory of the instances JSON's file_names")
    build.add_argument(
        "--strategies", default=",".join(STRATEGIES), help="comma list of " + "/".join(STRATEGIES)
    )
    build.add_argument(
        "--per-image", type=int, default=3, help="present (and as many absent) objects per image"
    )
    build.add_argument("--seed", type=int, default=0)
    build.add_argument(
        "--max-images", type=int, help="use only the first N images of the ground truth"
    )
    build.add_argument("--template", help="question with {object} (default: per ground-truth kind)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    unknown = sorted(set(strategies) - set(STRATEGIES))
    if unknown:
        raise SystemExit(f"unival pope: unknown strategies {unknown}; use {', '.join(STRATEGIES)}")
    summary = build_pope(
        load_ground_truth(args.gt),
        args.out,
        strategies,
        args.per_image,
        args.seed,
        args.image_dir,
        args.template,
        args.max_images,
    )
    sys.stdout.write(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
