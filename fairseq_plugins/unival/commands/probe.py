"""``unival probe``: the complex-instruction probe suite (:mod:`unival.probes.complex_suite`).

    unival probe build --out DIR [--scenes toy/scenes_test.json | --num-scenes 100 --seed 0]
    unival probe score --predictions R/predictions.json --categories DIR/probe_vqa.categories.json

``build`` writes probe_refcoco.tsv / probe_vqa.tsv with their ``.categories.json`` side files;
evaluate a grounding checkpoint on the first and a VQA checkpoint on the second (with
``--ans2label-file DIR/probe_answers.txt``: every probe answer must be a candidate) with
``unival eval`` (``--metric probe`` prints the per-category table directly), or score a
``predictions.json`` afterwards with ``score`` (grounding Acc@0.5 / VQA accuracy per category).
"""

import argparse
import json
import logging
import sys
from typing import Optional, Sequence

from unival.probes.complex_suite import build_probe_suite
from unival.probes.scoring import format_probe_table, score_probe_files


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unival probe", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    build = sub.add_parser("build", help="write the probe TSVs and category side files")
    build.add_argument("--out", required=True)
    build.add_argument("--scenes", help="a toy-world scenes JSON (default: sample probe scenes)")
    build.add_argument("--num-scenes", type=int, default=100)
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--image-size", type=int, default=64)
    score = sub.add_parser("score", help="per-category scores of a predictions.json")
    score.add_argument("--predictions", required=True, help="unival eval's predictions.json")
    score.add_argument(
        "--categories", required=True, help="probe_refcoco/probe_vqa .categories.json"
    )
    score.add_argument("--out", help="also write the scores to this JSON file")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.action == "build":
        summary = build_probe_suite(
            args.out,
            scenes_json=args.scenes,
            num_scenes=args.num_scenes,
            seed=args.seed,
            image_size=args.image_size,
        )
        sys.stdout.write(json.dumps(summary, indent=1) + "\n")
        return 0

    scores = score_probe_files(args.predictions, args.categories)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(scores, f, indent=1)
    sys.stdout.write(format_probe_table(scores) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
