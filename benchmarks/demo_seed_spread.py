"""Seed spread of the demo's audio-transfer finding: audio captioning fine-tuned from the
multitask base against trained from scratch, same budget, for several training seeds.

Runs after ``make demo`` and reads its toy world and multitask base:

    python benchmarks/demo_seed_spread.py --demo-dir outputs/demo --seeds 1 2 3 \
        --out outputs/seed_spread [--json spread.json]

A seed changes the model's initial weights (for the base arm: those of the new audio encoder),
fairseq's random draws and the order of the shuffled training rows; the toy world and the base
stay the demo's. Both arms use the demo's audio recipe (``MultitaskSettings.experts``: updates,
wall-clock cap, learning rate), so a busy machine gives fewer updates: the table lists them.
Prints a markdown table with every run, the mean and the sample standard deviation of each
arm and of the gain (base minus scratch).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fairseq_plugins"))

from unival.demo.context import DemoContext, demo_environment, dump_json  # noqa: E402
from unival.demo.multitask import MultitaskSettings, StageRunner  # noqa: E402
from unival.demo.tasks import AUDIO_TASK  # noqa: E402

ARMS = (("base", "multitask base (no audio seen)"), ("scratch", "scratch"))


def run_seed(demo_dir: Path, out: Path, seed: int) -> dict:
    """Both arms at one training seed: ``{arm: {"score", "updates"}}``."""
    world, base = demo_dir / "toy_world", demo_dir / "multitask" / "base" / "checkpoints"
    ctx = DemoContext(out=out, seed=seed, env=demo_environment(), world=world)
    settings = replace(MultitaskSettings(), train_seed=seed)
    runner = StageRunner(ctx, settings, world, out)
    runs = {}
    for arm, _ in ARMS:
        init = base / "checkpoint_last.pt" if arm == "base" else None
        label = f"audio_{arm}_seed{seed}"
        checkpoint = runner.finetune(AUDIO_TASK, init, label)
        result = runner.evaluate(AUDIO_TASK, checkpoint, label)
        runs[arm] = {"score": result["score"], "updates": result["updates"]}
        print(f"seed {seed} {arm}: CIDEr-D {result['score']:.3f} ({result['updates']} updates)")
    return runs


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo-dir", type=Path, required=True, help="make demo's output folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    base = args.demo_dir / "multitask" / "base" / "checkpoints" / "checkpoint_last.pt"
    if not base.is_file():
        parser.error(f"{base} does not exist: run make demo (or pass its --out) first")
    args.out.mkdir(parents=True, exist_ok=True)
    per_seed = {seed: run_seed(args.demo_dir, args.out, seed) for seed in args.seeds}
    print(markdown(per_seed))
    if args.json:
        dump_json(args.json, {"demo_dir": str(args.demo_dir), "seeds": per_seed})
    return 0


if __name__ == "__main__":
    sys.exit(main())
