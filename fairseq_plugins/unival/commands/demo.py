"""``unival demo`` (``make demo``, ``python -m unival.demo``): the toolkit on the toy world.

Toy world -> multitask ``unival_tiny`` base -> image, video and audio experts -> probes ->
``OUT/report.json`` and one table per stage (:mod:`unival.demo.pipeline`). Runs from a
checkout of the repository (it drives ``run_scripts/``; or set ``UNIVAL_HOME``).
"""
import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from unival.demo.pipeline import DEFAULT_STAGES, STAGE_NAMES, run_demo

DESCRIPTION = "Toy world -> multitask unival_tiny base -> image, video and audio experts -> probes -> report (runs from a checkout)."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unival demo", description=DESCRIPTION)
    parser.add_argument("--out", default="outputs/demo", help="output folder (default: outputs/demo)")
    parser.add_argument("--seed", type=int, default=0, help="toy world seed (default: 0)")
    parser.add_argument(
        "--stages",
        default=DEFAULT_STAGES,
        help=f"comma list of stages to run, from {', '.join(STAGE_NAMES)} (default: {DEFAULT_STAGES})",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="multitask/media stages at toy-of-toy size (a pipeline check, seconds per step)",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    # force: importing fairseq has already configured the root logger
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s | demo | %(message)s", datefmt="%H:%M:%S", force=True
    )
    names = [n for n in args.stages.split(",") if n]
    run_demo(Path(args.out), names, seed=args.seed, smoke=args.smoke)
    return 0


if __name__ == "__main__":
    sys.exit(main())
