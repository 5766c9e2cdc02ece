"""The ``unival merge`` command line: one subcommand per merge method, and ``sweep``."""

from __future__ import annotations

import argparse

from unival.merging.options import DEFAULT_LAMBDAS, add_common_options, float_list
from unival.merging.sweep import add_sweep_parser
from unival.merging.task_vectors import TRIM_SCOPES

DESCRIPTION = "Merge fairseq checkpoints by weight interpolation or task arithmetic."


def _add_task_vector_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base",
        required=True,
        help="the pretrained checkpoint all inputs "
        "were fine-tuned from (integer buffers are copied from it)",
    )
    parser.add_argument("finetuned", nargs="+", help="fine-tuned checkpoints")
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--dare",
        type=float,
        default=0.0,
        metavar="P",
        help="DARE drop rate applied to each task vector first (default 0: off)",
    )
    parser.add_argument("--seed", type=int, default=0, help="DARE seed (task vector i uses seed+i)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unival merge", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", metavar="METHOD", required=True)

    sub = commands.add_parser("interpolate", help="lam*A + (1-lam)*B for each lambda")
    sub.add_argument("a", metavar="A.pt")
    sub.add_argument("b", metavar="B.pt")
    sub.add_argument("--lambdas", type=float_list, default=float_list(DEFAULT_LAMBDAS))
    sub.add_argument("--out-dir", required=True)
    sub.add_argument("--name", default=None, help="output file prefix (default: A_B stems)")
    add_common_options(sub)

    sub = commands.add_parser("average", help="uniform or weighted average")
    sub.add_argument("checkpoints", nargs="+")
    sub.add_argument(
        "--weights",
        type=float_list,
        default=None,
        help="comma-separated, non-negative, summing to 1 (default uniform)",
    )
    sub.add_argument("--out", required=True)
    add_common_options(sub)

    sub = commands.add_parser("task-arithmetic", help="base + scale * sum of task vectors")
    sub.add_argument("--scale", type=float, required=True)
    _add_task_vector_options(sub)
    add_common_options(sub)

    sub = commands.add_parser("ties", help="TIES merge (trim, elect sign, disjoint mean)")
    sub.add_argument(
        "--density",
        type=float,
        required=True,
        help="fraction of each task vector's entries kept, in (0, 1]",
    )
    sub.add_argument("--scale", type=float, default=1.0)
    sub.add_argument("--trim-scope", choices=TRIM_SCOPES, default="global")
    _add_task_vector_options(sub)
    add_common_options(sub)

    add_sweep_parser(commands)
    return parser
