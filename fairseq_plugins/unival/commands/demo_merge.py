"""``unival demo-merge`` (``make demo-merge``): model merging on the toy world.

Base -> caption, VQA and grounding experts -> interpolation of every pair, task arithmetic
and TIES over a grid -> ``OUT/report.json``, sweep CSVs and plots
(:mod:`unival.demo.merge.pipeline`). Runs from a checkout (or set ``UNIVAL_HOME``).
"""
import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from unival.demo.merge.pipeline import SMOKE, MergeDemo, MergeDemoSettings
from unival.demo.merge.report import format_table

logger = logging.getLogger("unival.demo.merge")

DESCRIPTION = "Toy base -> caption, VQA and grounding experts -> interpolation, task arithmetic and TIES sweeps -> report (runs from a checkout)."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unival demo-merge", description=DESCRIPTION)
    parser.add_argument("--out", default="outputs/demo_merge", help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="toy world seed (default: 0)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes and a few updates: checks the pipeline in about a minute",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    # force: importing fairseq has already configured the root logger
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s | demo-merge | %(message)s", datefmt="%H:%M:%S",
        force=True,
    )
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    report = MergeDemo(out, SMOKE if args.smoke else MergeDemoSettings(), seed=args.seed).run()
    sys.stdout.write(format_table(report) + f"\ntotal {report['seconds']['total']:.0f} s\n")
    logger.info("report written to %s", out / "report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
