"""``unival demo`` (``make demo``, ``python -m unival.demo``): the toolkit on the toy world.

Toy world -> multitask ``unival_tiny`` base -> image, video and audio experts -> probes ->
``OUT/report.json`` and one table per stage (:mod:`unival.demo.pipeline`). Runs from a
checkout of the repository (it drives ``run_scripts/``; or set ``UNIVAL_HOME``).
"""

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from unival.demo.context import demo_parser, log_demo_progress
from unival.demo.pipeline import DEFAULT_STAGES, STAGE_NAMES, run_demo
from unival.demo.profiles import DEVICES, render_commands, resolve_device, settings_for

DESCRIPTION = (
    "Toy world -> multitask unival_tiny base -> image, video and audio experts -> probes "
    "-> report (runs from a checkout)."
)


def build_parser() -> argparse.ArgumentParser:
    parser = demo_parser(
        "unival demo",
        DESCRIPTION,
        "outputs/demo",
        "multitask/media stages at toy-of-toy size (a pipeline check, seconds per step)",
    )
    parser.add_argument(
        "--stages",
        default=DEFAULT_STAGES,
        help=f"comma list of stages to run, from {', '.join(STAGE_NAMES)} "
        f"(default: {DEFAULT_STAGES})",
    )
    parser.add_argument(
        "--device",
        default="auto",
        choices=DEVICES,
        help="cpu: the 2-core recipe; gpu (or cuda): the bigger GPU profile; auto (default): "
        "gpu when torch sees a CUDA device",
    )
    parser.add_argument(
        "--base-updates",
        type=int,
        default=None,
        metavar="N",
        help="the base's schedule in updates (its wall-clock cap stays); default on the CPU: "
        "fitted to this machine by a short speed probe (the report records it)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="F",
        help="every training's updates and wall-clock cap times F (default 1): e.g. 0.5 runs "
        "the same recipe in about half the training time, with lower scores",
    )
    parser.add_argument(
        "--parallel-experts",
        type=int,
        default=None,
        metavar="N",
        help="train up to N independent experts at the same time (default: 1 on the CPU, 3 in "
        "the GPU profile, where one small training leaves the GPU mostly idle)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print every training and evaluation command of the multitask and media stages "
        "(the run scripts' DRY_RUN=1) and exit",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    log_demo_progress("demo")
    device = resolve_device(args.device)
    if args.base_updates is not None and args.base_updates < 1:
        raise SystemExit(f"--base-updates must be >= 1 (got {args.base_updates})")
    if not 0 < args.time_scale <= 10:
        raise SystemExit(f"--time-scale must be in (0, 10] (got {args.time_scale})")
    if args.parallel_experts is not None and args.parallel_experts < 1:
        raise SystemExit(f"--parallel-experts must be >= 1 (got {args.parallel_experts})")
    if args.dry_run:
        settings = settings_for(
            device, args.smoke, args.base_updates, args.time_scale, args.parallel_experts
        )
        for label, command in render_commands(settings, Path(args.out)):
            print(f"# {label}\n{command}")
        return 0
    names = [n for n in args.stages.split(",") if n]
    run_demo(
        Path(args.out),
        names,
        seed=args.seed,
        smoke=args.smoke,
        device=device,
        base_updates=args.base_updates,
        time_scale=args.time_scale,
        parallel_experts=args.parallel_experts,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
