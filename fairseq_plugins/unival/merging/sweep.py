"""``unival merge sweep``: merge along a grid, evaluate every point on each task, CSV + PNG.

    unival merge sweep A.pt B.pt --lambdas 0,0.2,0.4,0.6,0.8,1 --out-dir DIR \\
        --eval caption=caption_valid.tsv vqa_gen=vqa_val.tsv \\
        --eval-args 'all=--batch-size 8' 'vqa_gen=--val-inference-type beamsearch'
    unival merge sweep --method ties --base BASE.pt A.pt B.pt --scales 0.5,1 --density 0.2 ...

Each grid value gives one merged model, computed as the merge command of the same name does
(``interpolate``: ``lam * A + (1 - lam) * B``; ``task-arithmetic`` and ``ties``:
``base + scale * ...``). It is written under ``--work-dir`` and evaluated with ``unival eval``
on every ``--eval`` (syntax: :mod:`unival.merging.sweep_eval`). Results in ``--out-dir``:

* ``{name}_sweep.csv``: one row per grid value x evaluation (:mod:`unival.merging.plot`),
  rewritten after each grid value;
* ``{name}_sweep.png``: metric vs lambda (or scale), one line per evaluation;
* ``eval/{checkpoint stem}/{evaluation}/``: ``unival eval``'s predictions.json and scores.json.

An evaluation runs as the task saved in the cfg of the checkpoint it loads, so the merged
weights are written once per *task config*: for an evaluation of TASK, ``--task-config
TASK=CKPT`` if given, else the first input (A, B; or the fine-tuned models, then --base)
saved with task TASK. The file with the template's cfg (A's; the first fine-tuned model's) is
``{name}_l{lam:.2f}.pt`` (``_s{scale:.2f}`` for scales); another task config adds ``.TASK``:
interpolating a caption expert A with a VQA expert B writes ``ab_l0.40.pt`` (evaluated on
caption) and ``ab_l0.40.vqa_gen.pt`` (the same weights with B's cfg, evaluated on vqa_gen).
``--delete-checkpoints`` removes each file once its evaluations are done.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from unival.merging.checkpoint import (
    LoadedCheckpoint,
    build_merged_checkpoint,
    load_checkpoint,
    merge_metadata,
    save_checkpoint,
)
from unival.merging.linear import interpolate
from unival.merging.options import (
    DEFAULT_LAMBDAS,
    add_common_options,
    float_list,
    hyperparameters,
    plan_notes,
)
from unival.merging.plot import SweepRow, plot_sweep, write_csv
from unival.merging.sweep_eval import (
    Evaluation,
    SweepError,
    build_evaluations,
    parse_pairs,
    run_evaluation,
    saved_task_name,
)
from unival.merging.task_vectors import (
    TRIM_SCOPES,
    apply_task_vectors,
    dare,
    task_vectors,
    ties_combine,
)

__all__ = ["SweepError", "add_sweep_parser", "run_sweep", "GridMerger"]

logger = logging.getLogger("unival.merging.sweep")

METHODS = ("interpolate", "task-arithmetic", "ties")
RECIPES = {
    "interpolate": "lam * A + (1 - lam) * B",
    "task-arithmetic": "base + scale * sum_i DARE(model_i - base)",
    "ties": "base + scale * ties_mean(trim(DARE(model_i - base)))",
}
EVAL_SYNTAX = """evaluations (NAME is TASK or TASK.LABEL, TASK a fairseq task: caption, vqa_gen,
refcoco, snli_ve, video_caption, video_vqa_gen, audio_caption):
  --eval NAME=TSV ...           evaluate every merged model on TSV as TASK
  --eval-args NAME=ARGS ...     'unival eval' options for NAME, one quoted string;
                                NAME 'all' applies to every evaluation (before its own)
  --metric NAME=KEY ...         the scores.json key reported (default: cider for captioning,
                                vqa_score, snli_score, score for refcoco)
  --task-config TASK=CKPT ...   the checkpoint whose cfg evaluates TASK (default: the first
                                input saved with that task)
Put the input checkpoints before these options (each takes several values)."""


def add_sweep_parser(commands) -> None:
    """Add ``sweep`` to the ``unival merge`` subcommands."""
    sub = commands.add_parser(
        "sweep",
        help="merge along a lambda/scale grid, evaluate each point: CSV + PNG",
        description="\n\n".join(__doc__.split("\n\n")[:2]),
        epilog=EVAL_SYNTAX,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.add_argument(
        "checkpoints",
        nargs="+",
        metavar="CKPT",
        help="interpolate: A.pt B.pt; task-arithmetic, ties: the fine-tuned models",
    )
    sub.add_argument("--method", choices=METHODS, default="interpolate")
    sub.add_argument(
        "--lambdas",
        type=float_list,
        help=f"interpolate: the weights of A (default {DEFAULT_LAMBDAS})",
    )
    sub.add_argument(
        "--scales",
        type=float_list,
        help=f"task-arithmetic, ties: the scales (default {DEFAULT_LAMBDAS})",
    )
    sub.add_argument("--base", help="task-arithmetic, ties: the pretrained checkpoint")
    sub.add_argument("--density", type=float, help="ties: fraction of each task vector kept")
    sub.add_argument("--trim-scope", choices=TRIM_SCOPES, default="global", help="ties")
    sub.add_argument(
        "--dare",
        type=float,
        default=0.0,
        metavar="P",
        help="task-arithmetic, ties: DARE drop rate (default 0: off)",
    )
    sub.add_argument("--seed", type=int, default=0, help="DARE seed (task vector i uses seed+i)")
    group = sub.add_argument_group("evaluation (see below)")
    group.add_argument("--eval", nargs="+", action="extend", required=True, metavar="NAME=TSV")
    group.add_argument("--eval-args", nargs="+", action="extend", default=[], metavar="NAME=ARGS")
    group.add_argument("--metric", nargs="+", action="extend", default=[], metavar="NAME=KEY")
    group.add_argument("--task-config", nargs="+", action="extend", default=[], metavar="TASK=CKPT")
    group = sub.add_argument_group("outputs")
    group.add_argument("--out-dir", required=True, help="CSV, PNG and evaluation results")
    group.add_argument("--work-dir", help="merged checkpoints (default: --out-dir)")
    group.add_argument("--name", help="file prefix (default: the input stems joined by _)")
    group.add_argument(
        "--delete-checkpoints",
        action="store_true",
        help="delete each merged checkpoint after its evaluations",
    )
    add_common_options(sub)


def sweep_grid(args: argparse.Namespace) -> List[float]:
    """The grid values, after checking that the options fit ``args.method``."""
    tv_only = [
        flag
        for flag, given in (("--base", args.base), ("--scales", args.scales), ("--dare", args.dare))
        if given
    ]
    if args.method == "interpolate":
        if len(args.checkpoints) != 2:
            raise ValueError(
                f"interpolate needs exactly two checkpoints A B, got {len(args.checkpoints)}"
            )
        if tv_only or args.density is not None:
            raise ValueError(
                f"{', '.join(tv_only or ['--density'])}: only for --method task-arithmetic or ties"
            )
        grid = args.lambdas if args.lambdas is not None else float_list(DEFAULT_LAMBDAS)
    else:
        if not args.base:
            raise ValueError(f"--method {args.method} needs --base (the pretrained checkpoint)")
        if args.lambdas is not None:
            raise ValueError(f"--method {args.method} sweeps --scales, not --lambdas")
        if (args.method == "ties") != (args.density is not None):
            raise ValueError("--density is required by --method ties and only used there")
        grid = args.scales if args.scales is not None else float_list(DEFAULT_LAMBDAS)
    if not grid:
        raise ValueError("the grid is empty")
    tags = [grid_tag(args.method, value) for value in grid]
    repeated = sorted({tag for tag in tags if tags.count(tag) > 1})
    if repeated:
        raise ValueError(
            f"grid {grid} repeats {', '.join(repeated)} (file names keep two decimals)"
        )
    return list(grid)


def grid_tag(method: str, value: float) -> str:
    return f"_{'l' if method == 'interpolate' else 's'}{value:.2f}"


class GridMerger:
    """The inputs, loaded once, and the merged state dict at any grid value."""

    def __init__(self, args: argparse.Namespace):
        self.method, self.args = args.method, args
        load = [
            load_checkpoint(path, ema=args.ema, trusted=args.trusted, keep_fields=True)
            for path in args.checkpoints
        ]
        if self.method == "interpolate":
            self.roles: List[Tuple[str, LoadedCheckpoint]] = [("A", load[0]), ("B", load[1])]
            states = [c.weights for c in load]
            self.notes = plan_notes(states, [c.path for c in load], args)
            self.base = None
        else:
            self.base = load_checkpoint(
                args.base, ema=args.ema, trusted=args.trusted, keep_fields=True
            )
            self.roles = [("base", self.base)] + [(f"finetuned {i}", c) for i, c in enumerate(load)]
            names = [self.base.path] + [c.path for c in load]
            self.notes = plan_notes([self.base.weights] + [c.weights for c in load], names, args)
            vectors = task_vectors(
                self.base.weights,
                [c.weights for c in load],
                frozen_keys=args.frozen_keys,
                names=names,
            )
            if args.dare:  # the seeds of task_arithmetic / ties_merge: vector i uses seed + i
                vectors = [
                    dare(vector, args.dare, args.seed + i) for i, vector in enumerate(vectors)
                ]
            if self.method == "ties":
                vectors = [ties_combine(vectors, args.density, args.trim_scope)]
            self.vectors = vectors
            for checkpoint in load:
                checkpoint.weights = {}  # only the task vectors are needed from here on
        self.inputs = load
        self.template = load[0]

    def task_config_candidates(self) -> List[LoadedCheckpoint]:
        """Inputs in the order searched for a task's config: A, B / fine-tuned..., base."""
        return self.inputs + ([self.base] if self.base is not None else [])

    def merged(self, value: float):
        args = self.args
        if self.method == "interpolate":
            a, b = self.inputs
            return interpolate(
                a.weights, b.weights, value, frozen_keys=args.frozen_keys, names=[a.path, b.path]
            )
        return apply_task_vectors(
            self.base.weights, self.vectors, value, frozen_keys=args.frozen_keys
        )

    def metadata(self, value: float, grid: Sequence[float], template: LoadedCheckpoint) -> dict:
        args = self.args
        if self.method == "interpolate":
            hyper = hyperparameters(args, lam=value, lambdas=list(grid))
        else:
            hyper = hyperparameters(
                args, scale=value, scales=list(grid), dare_rate=args.dare, seed=args.seed
            )
            if self.method == "ties":
                hyper.update(density=args.density, trim_scope=args.trim_scope)
        return merge_metadata(
            self.method, RECIPES[self.method], self.roles, hyper, self.notes, template
        )


def task_configs(
    evaluations: Sequence[Evaluation],
    candidates: Sequence[LoadedCheckpoint],
    args: argparse.Namespace,
) -> Dict[str, LoadedCheckpoint]:
    """``{task: checkpoint whose non-model fields (cfg) the evaluated file carries}``."""
    explicit = parse_pairs(args.task_config, "--task-config")
    tasks = list(dict.fromkeys(evaluation.task for evaluation in evaluations))
    unused = sorted(set(explicit) - set(tasks))
    if unused:
        raise ValueError(f"--task-config {', '.join(unused)}: no --eval of that task")
    saved = [(c, saved_task_name(c.fields)) for c in candidates]
    configs = {}
    for task in tasks:
        if task in explicit:
            config = load_checkpoint(explicit[task], trusted=args.trusted, keep_fields=True)
            config.weights = {}
            if saved_task_name(config.fields) != task:
                raise ValueError(
                    f"--task-config {task}={config.path}: that checkpoint was saved "
                    f"with task {saved_task_name(config.fields)}, not {task}"
                )
        else:
            config = next((c for c, name in saved if name == task), None)
            if config is None:
                have = ", ".join(f"{c.path}: {name}" for c, name in saved)
                raise ValueError(
                    f"no input checkpoint was saved with task {task} ({have}); "
                    f"name one with --task-config {task}=CKPT"
                )
        configs[task] = config
    return configs


def _refuse_existing(paths: Sequence[str], force: bool) -> None:
    existing = [path for path in paths if os.path.exists(path)]
    if existing and not force:
        raise FileExistsError(f"output(s) exist: {', '.join(existing)}; pass --force to replace")


def _summary(rows: Sequence[SweepRow], evaluations: Sequence[Evaluation]) -> str:
    header = ["lambda"] + [f"{e.name} ({e.metric})" for e in evaluations]
    lines = ["  ".join(f"{h:>14}" for h in header)]
    for lam in dict.fromkeys(row.lam for row in rows):
        values = {row.task: row.value for row in rows if row.lam == lam}
        cells = [f"{lam:>14.2f}"] + [
            f"{values.get(e.name, float('nan')):>14.4f}" for e in evaluations
        ]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def run_sweep(args: argparse.Namespace) -> List[str]:
    """Merge at every grid value, evaluate, write the CSV and PNG; returns their paths."""
    grid = sweep_grid(args)
    evaluations = build_evaluations(args.eval, args.eval_args, args.metric)
    stems = [Path(path).stem for path in args.checkpoints]
    name = args.name or "_".join(stems if args.method == "interpolate" else [args.method] + stems)
    work_dir = args.work_dir or args.out_dir
    csv_path = os.path.join(args.out_dir, f"{name}_sweep.csv")
    png_path = os.path.join(args.out_dir, f"{name}_sweep.png")
    _refuse_existing([csv_path, png_path], args.force)

    merger = GridMerger(args)
    configs = task_configs(evaluations, merger.task_config_candidates(), args)
    files = {}  # (grid value, task) -> merged file carrying that task's config
    for value in grid:
        for task, config in configs.items():
            suffix = "" if config is merger.template else f".{task}"
            files[value, task] = os.path.join(
                work_dir, f"{name}{grid_tag(args.method, value)}{suffix}.pt"
            )
    _refuse_existing(sorted(set(files.values())), args.force)

    rows: List[SweepRow] = []
    for value in grid:
        merged = merger.merged(value)
        for task, config in configs.items():
            path = files[value, task]
            metadata = merger.metadata(value, grid, config)
            save_checkpoint(
                build_merged_checkpoint(config, merged, metadata), path, overwrite=args.force
            )
            for evaluation in (e for e in evaluations if e.task == task):
                results = os.path.join(args.out_dir, "eval", Path(path).stem, evaluation.name)
                score = run_evaluation(evaluation, path, results)
                rows.append(
                    SweepRow(args.method, value, evaluation.name, evaluation.metric, score, path)
                )
            if args.delete_checkpoints:
                os.remove(path)
                logger.info("deleted %s", path)
        order = {e.name: i for i, e in enumerate(evaluations)}
        rows.sort(key=lambda row: (grid.index(row.lam), order[row.task]))
        write_csv(rows, csv_path)
    plot_sweep(rows, png_path, title=f"{name}: {RECIPES[args.method]}")
    logger.info("sweep %s (%s):\n%s", name, RECIPES[args.method], _summary(rows, evaluations))
    return [csv_path, png_path]
