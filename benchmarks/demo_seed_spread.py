"""Seed spread of the demo's two findings that go against the paper, for several training
seeds, each with its mean and sample standard deviation:

* ``--finding audio``: audio captioning fine-tuned from the multitask base against trained
  from scratch, same budget (the paper: image-text pretraining helps audio);
* ``--finding merge``: the caption and VQA experts fine-tuned from the base, then
  interpolated (``lam * caption + (1 - lam) * VQA``, ``unival merge sweep``) and scored on
  both test splits; per lambda the retention (score / that task's expert), and whether some
  lambda keeps >= 90% of both (the paper's finding).

Runs after ``make demo`` and reads its toy world and multitask base:

    python benchmarks/demo_seed_spread.py --finding audio --demo-dir outputs/demo \
        --seeds 1 2 3 --out outputs/seed_spread [--json spread.json]

A seed changes the new weights (the audio encoder of the base arm; everything from scratch),
fairseq's random draws and the order of the shuffled training rows; the toy world and the base
stay the demo's. Every training uses the demo's recipe (``MultitaskSettings.experts``: updates,
wall-clock cap, learning rate), so a busy machine gives fewer updates: the tables list them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fairseq_plugins"))

from unival.demo.context import DemoContext, demo_environment, dump_json  # noqa: E402
from unival.demo.merge.pipeline import logs_to  # noqa: E402
from unival.demo.merge.report import KEEP, curve, grid_summary  # noqa: E402
from unival.demo.merge.steps import EXPERTS, eval_options, pair_sweep_argv  # noqa: E402
from unival.demo.multitask import MultitaskSettings  # noqa: E402
from unival.demo.recipes import checkpoint_state  # noqa: E402
from unival.demo.runner import StageRunner  # noqa: E402
from unival.demo.tasks import AUDIO_TASK, IMAGE_TASKS  # noqa: E402
from unival.merging.parser import build_parser as build_merge_parser  # noqa: E402
from unival.merging.plot import read_csv  # noqa: E402
from unival.merging.runners import RUNNERS as MERGE_RUNNERS  # noqa: E402

ARMS = ("base", "scratch")  # audio: from the multitask base (no audio seen), from scratch
MERGED = EXPERTS[:2]  # caption (A, lambda 1) and VQA (B, lambda 0)


def seed_runner(demo_dir: Path, out: Path, seed: int):
    """The demo's stage runner at training seed ``seed``, its toy world and base folder."""
    world, base = demo_dir / "toy_world", demo_dir / "multitask" / "base" / "checkpoints"
    ctx = DemoContext(out=out, seed=seed, env=demo_environment(), world=world)
    settings = replace(MultitaskSettings(), train_seed=seed)
    return StageRunner(ctx, settings, world, out), world, base


def run_seed(demo_dir: Path, out: Path, seed: int) -> dict:
    """Both audio arms at one training seed: ``{arm: {"score", "updates"}}``."""
    runner, _, base = seed_runner(demo_dir, out, seed)
    runs = {}
    for arm in ARMS:
        init = base / "checkpoint_last.pt" if arm == "base" else None
        label = f"audio_{arm}_seed{seed}"
        checkpoint = runner.finetune(AUDIO_TASK, init, label)
        result = runner.evaluate(AUDIO_TASK, checkpoint, label)
        runs[arm] = {"score": result["score"], "updates": result["updates"]}
        print(f"seed {seed} {arm}: CIDEr-D {result['score']:.3f} ({result['updates']} updates)")
    return runs


def run_merge_seed(demo_dir: Path, out: Path, seed: int, lambdas) -> dict:
    """Caption and VQA experts at one training seed, interpolated on ``lambdas``: the expert
    scores and updates, the curve with retentions, the best lambda and the best worst-task
    retention over the lambdas strictly between 0 and 1 (``grid_summary`` of the merge demo)."""
    runner, world, base = seed_runner(demo_dir, out, seed)
    tasks = {task.name: task for task in IMAGE_TASKS}
    checkpoints, updates = {}, {}
    for expert in MERGED:
        checkpoints[expert.name] = runner.finetune(
            tasks[expert.name], base / "checkpoint_last.pt", f"{expert.name}_seed{seed}"
        )
        updates[expert.name] = checkpoint_state(checkpoints[expert.name])[0]
    data = {e.name: tasks[e.name].test_tsv(world) for e in MERGED}
    options = {e.name: eval_options(e, runner.s, data[e.name], runner.ctx.env) for e in MERGED}
    sweeps = out / f"merge_seed{seed}"
    argv = pair_sweep_argv(*MERGED, checkpoints, lambdas, data, options, sweeps, sweeps / "work")
    with logs_to(out / "merge.log"):
        args = build_merge_parser().parse_args(argv)
        MERGE_RUNNERS[args.command](args)
    rows = read_csv(str(sweeps / f"{MERGED[0].name}_{MERGED[1].name}_sweep.csv"))
    points = curve(rows)
    own = {MERGED[0].task: points[1.0][MERGED[0].task], MERGED[1].task: points[0.0][MERGED[1].task]}
    summary = grid_summary(rows, own, "lambda")
    inner = [p for p in summary["curve"] if p["lambda"] not in (0.0, 1.0)]
    worst = max(min(r or 0.0 for r in p["retention"].values()) for p in inner)
    print(f"seed {seed}: experts {own}, best worst-task retention {worst:.3f}")
    return {"own": own, "updates": updates, "best_worst_retention": worst, **summary}


def spread(values: list) -> str:
    mean = statistics.mean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.3f} ± {sd:.3f}"


def markdown(per_seed: dict) -> str:
    lines = [
        "| seed | from the multitask base | from scratch | gain (base - scratch) |",
        "|---|---|---|---|",
    ]
    gains = []
    for seed, runs in per_seed.items():
        b, s = runs["base"], runs["scratch"]
        gains.append(b["score"] - s["score"])
        lines.append(
            f"| {seed} | {b['score']:.3f} ({b['updates']} upd.) | "
            f"{s['score']:.3f} ({s['updates']} upd.) | {gains[-1]:+.3f} |"
        )
    base = [r["base"]["score"] for r in per_seed.values()]
    scratch = [r["scratch"]["score"] for r in per_seed.values()]
    lines.append(f"| mean ± sd | {spread(base)} | {spread(scratch)} | {spread(gains)} |")
    return "\n".join(lines)


def merge_markdown(per_seed: dict) -> str:
    """One row per seed: expert scores (updates), the best lambda with its two retentions,
    the best worst-task retention over the inner lambdas, and the lambdas keeping 90%."""
    a, b = MERGED[0].task, MERGED[1].task
    lines = [
        "| seed | caption expert CIDEr-D | VQA expert score | best lambda (mean retention) | "
        "caption / VQA kept there | best worst-task retention | lambdas keeping 90% of both |",
        "|---|---|---|---|---|---|---|",
    ]
    for seed, run in per_seed.items():
        best, kept = run["best"], run["lambdas_keeping_90pct"]
        ret = best["retention"]
        lines.append(
            f"| {seed} | {run['own'][a]:.3f} ({run['updates'][MERGED[0].name]} upd.) | "
            f"{run['own'][b]:.3f} ({run['updates'][MERGED[1].name]} upd.) | "
            f"{best['lambda']:g} | {ret[a]:.0%} / {ret[b]:.0%} | "
            f"{run['best_worst_retention']:.0%} | {', '.join(f'{x:g}' for x in kept) or 'none'} |"
        )
    worst = [run["best_worst_retention"] for run in per_seed.values()]
    held = sum(run["best_worst_retention"] >= KEEP for run in per_seed.values())
    lines.append(
        f"| mean ± sd | {spread([r['own'][a] for r in per_seed.values()])} | "
        f"{spread([r['own'][b] for r in per_seed.values()])} | | | {spread(worst)} | "
        f"held in {held} of {len(per_seed)} |"
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--finding", choices=("audio", "merge"), default="audio")
    parser.add_argument("--demo-dir", type=Path, required=True, help="make demo's output folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--lambdas",
        type=float,
        nargs="+",
        default=[0.0, 0.25, 0.5, 0.75, 1.0],
        help="interpolation grid of --finding merge (must hold 0 and 1: the experts)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    base = args.demo_dir / "multitask" / "base" / "checkpoints" / "checkpoint_last.pt"
    if not base.is_file():
        parser.error(f"{base} does not exist: run make demo (or pass its --out) first")
    if args.finding == "merge" and not {0.0, 1.0} <= set(args.lambdas):
        parser.error("--lambdas must hold 0 and 1 (the two experts, the retention's reference)")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.finding == "audio":
        per_seed = {seed: run_seed(args.demo_dir, args.out, seed) for seed in args.seeds}
        print(markdown(per_seed))
    else:
        lambdas = sorted(set(args.lambdas))
        per_seed = {s: run_merge_seed(args.demo_dir, args.out, s, lambdas) for s in args.seeds}
        print(merge_markdown(per_seed))
    if args.json:
        dump_json(
            args.json,
            {"finding": args.finding, "demo_dir": str(args.demo_dir), "seeds": per_seed},
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
