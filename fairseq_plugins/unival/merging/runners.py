"""Run one ``unival merge`` method from its parsed options (:mod:`unival.merging.parser`);
each runner returns the paths it wrote."""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
from pathlib import Path
from typing import List, Sequence, Tuple

from unival.merging.checkpoint import (
    LoadedCheckpoint,
    build_merged_checkpoint,
    load_checkpoint,
    merge_metadata,
    save_checkpoint,
)
from unival.merging.linear import average, interpolate
from unival.merging.options import hyperparameters, plan_notes
from unival.merging.state import MergeError
from unival.merging.sweep import SweepError, run_sweep
from unival.merging.task_vectors import task_arithmetic, ties_merge
from unival.models.missing_weights import MissingWeightsError

logger = logging.getLogger("unival.commands.merge")


def _load(path: str, args: argparse.Namespace, template: bool = False) -> LoadedCheckpoint:
    return load_checkpoint(path, ema=args.ema, trusted=args.trusted, keep_fields=template)


def _refuse_existing(paths: Sequence[str], args: argparse.Namespace) -> None:
    """Fail before any work when an output exists and ``--force`` is not given."""
    existing = [path for path in paths if os.path.exists(path)]
    if existing and not args.force:
        raise FileExistsError(f"output(s) exist: {', '.join(existing)}; pass --force to replace")


def _write(template, merged, metadata, out_path, args) -> str:
    return save_checkpoint(
        build_merged_checkpoint(template, merged, metadata), out_path, overwrite=args.force
    )


def _lambda_paths(args: argparse.Namespace) -> Tuple[str, List[Tuple[float, str]]]:
    name = args.name or f"{Path(args.a).stem}_{Path(args.b).stem}"
    paths = [(lam, os.path.join(args.out_dir, f"{name}_l{lam:.2f}.pt")) for lam in args.lambdas]
    names = [path for _, path in paths]
    duplicated = sorted({path for path in names if names.count(path) > 1})
    if duplicated:
        raise ValueError(
            f"lambdas {args.lambdas} give the same file name twice "
            f"({', '.join(duplicated)}): names keep two decimals"
        )
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
        merged = interpolate(
            a.weights, b.weights, lam, frozen_keys=args.frozen_keys, names=[a.path, b.path]
        )
        metadata = merge_metadata(
            "interpolate",
            "lam * A + (1 - lam) * B",
            [("A", a), ("B", b)],
            hyperparameters(args, lam=lam, lambdas=list(args.lambdas)),
            notes,
            a,
        )
        written.append(_write(a, merged, metadata, path, args))
    manifest = {
        "method": "interpolate",
        "recipe": "lam * A + (1 - lam) * B",
        "A": a.path,
        "B": b.path,
        "weights": a.source,
        "checkpoints": [{"lambda": lam, "file": os.path.basename(path)} for lam, path in paths],
    }
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
        "average",
        "sum_i w_i * model_i",
        [(f"model {i}", c) for i, c in enumerate(loaded)],
        hyperparameters(args, weights=weights, uniform=args.weights is None),
        notes,
        loaded[0],
    )
    return [_write(loaded[0], merged, metadata, args.out, args)]


def run_task_vector_merge(args: argparse.Namespace) -> List[str]:
    _refuse_existing([args.out], args)
    base = _load(args.base, args)
    finetuned = [_load(path, args, template=(i == 0)) for i, path in enumerate(args.finetuned)]
    states = [c.weights for c in finetuned]
    names = [base.path] + [c.path for c in finetuned]
    common = dict(frozen_keys=args.frozen_keys, dare_rate=args.dare, seed=args.seed, names=names)
    if args.command == "ties":
        merged = ties_merge(
            base.weights, states, args.density, args.scale, trim_scope=args.trim_scope, **common
        )
        recipe = "base + scale * ties_mean(trim(DARE(model_i - base)))"
        hyper = dict(density=args.density, scale=args.scale, trim_scope=args.trim_scope)
    else:
        merged = task_arithmetic(base.weights, states, args.scale, **common)
        recipe = "base + scale * sum_i DARE(model_i - base)"
        hyper = dict(scale=args.scale)
    notes = plan_notes([base.weights, *states], names, args)
    roles = [("base", base)] + [(f"finetuned {i}", c) for i, c in enumerate(finetuned)]
    metadata = merge_metadata(
        args.command,
        recipe,
        roles,
        hyperparameters(args, dare_rate=args.dare, seed=args.seed, **hyper),
        notes,
        finetuned[0],
    )
    return [_write(finetuned[0], merged, metadata, args.out, args)]


RUNNERS = {
    "interpolate": run_interpolate,
    "average": run_average,
    "task-arithmetic": run_task_vector_merge,
    "ties": run_task_vector_merge,
    "sweep": run_sweep,
}

# what a failed merge raises for a user error (bad file, option or grid): one logged line
MERGE_ERRORS = (
    MergeError,
    SweepError,
    ValueError,
    FileExistsError,
    FileNotFoundError,
    pickle.UnpicklingError,
    MissingWeightsError,
)
