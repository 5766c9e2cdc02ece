"""``unival merge``: merge fairseq checkpoints by weight interpolation or task arithmetic.

    unival merge interpolate A.pt B.pt --lambdas 0,0.2,0.4,0.6,0.8,1 --out-dir DIR [--name N]
    unival merge average A.pt B.pt C.pt [--weights 0.5,0.25,0.25] --out OUT.pt
    unival merge task-arithmetic --base BASE.pt A.pt B.pt --scale 0.5 --out OUT.pt
        [--dare 0.3 --seed 0]
    unival merge ties --base BASE.pt A.pt B.pt --density 0.2 --scale 1.0 --out OUT.pt
    unival merge sweep A.pt B.pt --lambdas 0,0.5,1 --eval caption=valid.tsv --out-dir DIR

Every command accepts ``--ema`` (merge ``extra_state["ema"]`` instead of ``model``),
``--frozen-keys REGEX`` (repeatable: float tensors to copy from the first input instead of
merging), ``--trusted`` (full unpickling, for files you made) and ``--force`` (overwrite).
``interpolate`` writes ``{name}_l{lam:.2f}.pt`` per lambda (``lam * A + (1 - lam) * B``) and
``{name}_manifest.json`` listing them. ``sweep`` merges along a grid and evaluates every
point with ``unival eval`` (CSV + PNG; see :mod:`unival.merging.sweep`).
The output keeps the first input's cfg (the first fine-tuned model's for ``task-arithmetic``
and ``ties``) and records the recipe in ``extra_state["merge"]``; see
:mod:`unival.merging.checkpoint` and :mod:`unival.merging.state` for the rules.
"""

from __future__ import annotations

import logging
import sys
from typing import Optional, Sequence

from unival.commands.user_errors import describe
from unival.merging.parser import build_parser
from unival.merging.runners import MERGE_ERRORS, RUNNERS

logger = logging.getLogger("unival.commands.merge")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``unival merge METHOD ...``; prints the written paths, returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        written = RUNNERS[args.command](args)
    except MERGE_ERRORS as error:  # a user error: one line, the status of refused input
        sys.stderr.write(f"unival merge: {describe(error)}\n")
        return 2
    sys.stdout.write("".join(f"{path}\n" for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
