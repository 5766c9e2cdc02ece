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

from unival.demo.context import demo_parser, log_demo_progress
from unival.demo.merge.pipeline import SMOKE, MergeDemo, MergeDemoSettings
from unival.demo.merge.report import format_table

logger = logging.getLogger("unival.demo.merge")

DESCRIPTION = (
    "Toy base -> caption, VQA and grounding experts -> interpolation, task arithmetic and "
    "TIES sweeps -> report (runs from a checkout)."
)


def build_parser() -> argparse.ArgumentParser:
    return demo_parser(
        "unival demo-merge",
        DESCRIPTION,
        "outputs/demo_merge",
        "tiny sizes and a few updates: checks the pipeline in about a minute",
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    log_demo_progress("demo-merge")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    report = MergeDemo(out, SMOKE if args.smoke else MergeDemoSettings(), seed=args.seed).run()
    sys.stdout.write(format_table(report) + f"\ntotal {report['seconds']['total']:.0f} s\n")
    logger.info("report written to %s", out / "report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
