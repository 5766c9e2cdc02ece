"""What the ``unival merge`` commands share: argument types, common options, merge notes.

Used by :mod:`unival.commands.merge` (the merge methods) and :mod:`unival.merging.sweep`.
"""

from __future__ import annotations

import argparse
import logging
import re
from typing import List, Sequence

from unival.merging.state import plan_merge

logger = logging.getLogger("unival.commands.merge")

DEFAULT_LAMBDAS = "0,0.2,0.4,0.6,0.8,1"


def float_list(text: str) -> List[float]:
    """``"0,0.5,1"`` -> ``[0.0, 0.5, 1.0]`` (argparse type)."""
    try:
        return [float(item) for item in text.split(",") if item.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers: {error}") from None


def regex(text: str) -> "re.Pattern[str]":
    """A compiled regular expression (argparse type)."""
    try:
        return re.compile(text)
    except re.error as error:
        raise argparse.ArgumentTypeError(f"invalid regular expression {text!r}: {error}") from None


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """``--ema``, ``--frozen-keys``, ``--trusted``, ``--force``."""
    parser.add_argument(
        "--ema", action="store_true", help="merge each input's EMA weights (extra_state['ema'])"
    )
    parser.add_argument(
        "--frozen-keys",
        type=regex,
        action="append",
        default=[],
        metavar="REGEX",
        help="copy float tensors whose key matches (re.search) "
        "from the first input (--base for task-arithmetic and ties) instead of "
        "merging them; repeatable",
    )
    parser.add_argument(
        "--trusted",
        action="store_true",
        help="allow full unpickling (only for checkpoints you trust)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")


def plan_notes(states, names: Sequence[str], args: argparse.Namespace) -> dict:
    """The merge rules applied (for the metadata); warns once about what the user should know."""
    notes = plan_merge(states, names, args.frozen_keys).notes()
    for key, models in notes["copied_but_different"].items():
        logger.warning(
            "%s differs in %s; the output keeps the value of %s", key, ", ".join(models), names[0]
        )
    for pattern in notes["unmatched_frozen_patterns"]:
        logger.warning("--frozen-keys %r matches no key", pattern)
    return notes


def hyperparameters(args: argparse.Namespace, **values) -> dict:
    """``values`` plus the ``--frozen-keys`` patterns (the merge metadata's hyperparameters)."""
    values["frozen_key_patterns"] = [pattern.pattern for pattern in args.frozen_keys]
    return values
