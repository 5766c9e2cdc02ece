"""``unival merge``: merge fairseq checkpoints by weight interpolation or task arithmetic.

    unival merge interpolate A.pt B.pt --lambdas 0,0.2,0.4,0.6,0.8,1 --out-dir DIR [--name N]
    unival merge average A.pt B.pt C.pt [--weights 0.5,0.25,0.25] --out OUT.pt
    unival merge task-arithmetic --base BASE.pt A.pt B.pt --scale 0.5 --out OUT.pt [--dare 0.3 --seed 0]
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

import argparse
import json
import logging
import os
import pickle
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from unival.merging.checkpoint import (
    LoadedCheckpoint,
    build_merged_checkpoint,
    load_checkpoint,
    merge_metadata,
    save_checkpoint,
)
from unival.merging.cli_common import (
    DEFAULT_LAMBDAS,
    add_common_options,
    float_list,
    hyperparameters,
    plan_notes,
)
from unival.merging.linear import average, interpolate
from unival.merging.state import MergeError
from unival.merging.sweep import SweepError, add_sweep_parser, run_sweep
from unival.merging.task_vectors import TRIM_SCOPES, task_arithmetic, ties_merge

logger = logging.getLogger("unival.merging.cli")


def _add_task_vector_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, help="the pretrained checkpoint all inputs "
                        "were fine-tuned from (integer buffers are copied from it)")
    parser.add_argument("finetuned", nargs="+", help="fine-tuned checkpoints")
    parser.add_argument("--out", required=True)
    parser.add_argument("--dare", type=float, default=0.0, metavar="P",
                        help="DARE drop rate applied to each task vector first (default 0: off)")
    parser.add_argument("--seed", type=int, default=0, help="DARE seed (task vector i uses seed+i)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unival merge", description=__doc__.split("\n\n")[0])
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
    sub.add_argument("--weights", type=float_list, default=None,
                     help="comma-separated, non-negative, summing to 1 (default uniform)")
    sub.add_argument("--out", required=True)
    add_common_options(sub)

    sub = commands.add_parser("task-arithmetic", help="base + scale * sum of task vectors")
    sub.add_argument("--scale", type=float, required=True)
    _add_task_vector_options(sub)
    add_common_options(sub)

    sub = commands.add_parser("ties", help="TIES merge (trim, elect sign, disjoint mean)")
    sub.add_argument("--density", type=float, required=True,
                     help="fraction of each task vector's entries kept, in (0, 1]")
    sub.add_argument("--scale", type=float, default=1.0)
    sub.add_argument("--trim-scope", choices=TRIM_SCOPES, default="global")
    _add_task_vector_options(sub)
    add_common_options(sub)

    add_sweep_parser(commands)
    return parser


def _load(path: str, args: argparse.Namespace, template: bool = False) -> LoadedCheckpoint:
    return load_checkpoint(path, ema=args.ema, trusted=args.trusted, keep_fields=template)


def _refuse_existing(paths: Sequence[str], args: argparse.Namespace) -> None:
    """Fail before any work when an output exists and ``--force`` is not given."""
    existing = [path for path in paths if os.path.exists(path)]
    if existing and not args.force:
        raise FileExistsError(f"output(s) exist: {', '.join(existing)}; pass --force to replace")


def _write(template, merged, metadata, out_path, args) -> str:
    return save_checkpoint(build_merged_checkpoint(template, merged, metadata), out_path,
                           overwrite=args.force)


def _lambda_paths(args: argparse.Namespace) -> Tuple[str, List[Tuple[float, str]]]:
    name = args.name or f"{Path(args.a).stem}_{Path(args.b).stem}"
    paths = [(lam, os.path.join(args.out_dir, f"{name}_l{lam:.2f}.pt")) for lam in args.lambdas]
    names = [path for _, path in paths]
    duplicated = sorted({path for path in names if names.count(path) > 1})
    if duplicated:
        raise ValueError(f"lambdas {args.lambdas} give the same file name twice "
                         f"({', '.join(duplicated)}): names keep two decimals")
    return name, paths


def run_interpolate(args: argparse.Namespace) -> List[str]:
    if not args.lambdas:
        raise ValueError("--lambdas is empty")
    name, paths = _lambda_paths(args)
    _refuse_existing([path for _, path in paths], args)
    a, b = _load(args.a, args, template=True), _load(args.b, args)
    notes = plan_notes([a.weights, b.weights], [a.path, b.path], args)
    written = []
    for lam, path in paths:
        merged = interpolate(a.weights, b.weights, lam, frozen_keys=args.frozen_keys,
                             names=[a.path, b.path])
        metadata = merge_metadata(
            "interpolate", "lam * A + (1 - lam) * B", [("A", a), ("B", b)],
            hyperparameters(args, lam=lam, lambdas=list(args.lambdas)), notes, a)
        written.append(_write(a, merged, metadata, path, args))
    manifest = {"method": "interpolate", "recipe": "lam * A + (1 - lam) * B", "A": a.path,
                "B": b.path, "weights": a.source,
                "checkpoints": [{"lambda": lam, "file": os.path.basename(path)}
                                for lam, path in paths]}
    manifest_path = os.path.join(args.out_dir, f"{name}_manifest.json")
    with open(manifest_path, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2)
    return written + [manifest_path]


def run_average(args: argparse.Namespace) -> List[str]:
    _refuse_existing([args.out], args)
    loaded = [_load(path, args, template=(i == 0)) for i, path in enumerate(args.checkpoints)]
    states, names = [c.weights for c in loaded], [c.path for c in loaded]
    weights = args.weights or [1.0 / len(loaded)] * len(loaded)
    merged = average(states, weights, frozen_keys=args.frozen_keys, names=names)
    notes = plan_notes(states, names, args)
    metadata = merge_metadata(
        "average", "sum_i w_i * model_i", [(f"model {i}", c) for i, c in enumerate(loaded)],
        hyperparameters(args, weights=weights, uniform=args.weights is None), notes, loaded[0])
    return [_write(loaded[0], merged, metadata, args.out, args)]


def run_task_vector_merge(args: argparse.Namespace) -> List[str]:
    _refuse_existing([args.out], args)
    base = _load(args.base, args)
    finetuned = [_load(path, args, template=(i == 0)) for i, path in enumerate(args.finetuned)]
    states = [c.weights for c in finetuned]
    names = [base.path] + [c.path for c in finetuned]
    common = dict(frozen_keys=args.frozen_keys, dare_rate=args.dare, seed=args.seed, names=names)
    if args.command == "ties":
        merged = ties_merge(base.weights, states, args.density, args.scale,
                            trim_scope=args.trim_scope, **common)
        recipe = "base + scale * ties_mean(trim(DARE(model_i - base)))"
        hyper = dict(density=args.density, scale=args.scale, trim_scope=args.trim_scope)
    else:
        merged = task_arithmetic(base.weights, states, args.scale, **common)
        recipe = "base + scale * sum_i DARE(model_i - base)"
        hyper = dict(scale=args.scale)
    notes = plan_notes([base.weights, *states], names, args)
    roles = [("base", base)] + [(f"finetuned {i}", c) for i, c in enumerate(finetuned)]
    metadata = merge_metadata(args.command, recipe, roles, hyperparameters(
        args, dare_rate=args.dare, seed=args.seed, **hyper), notes, finetuned[0])
    return [_write(finetuned[0], merged, metadata, args.out, args)]


RUNNERS = {"interpolate": run_interpolate, "average": run_average,
           "task-arithmetic": run_task_vector_merge, "ties": run_task_vector_merge,
           "sweep": run_sweep}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``unival merge METHOD ...``; prints the written paths, returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        written = RUNNERS[args.command](args)
    except (MergeError, SweepError, ValueError, FileExistsError, FileNotFoundError,
            pickle.UnpicklingError) as error:
        logger.error("%s", error)
        return 1
    sys.stdout.write("".join(f"{path}\n" for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
