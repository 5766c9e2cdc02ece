"""Recipe search for ``make demo``'s multitask stage: train the base and the four image experts
under several recipes on one toy world and compare their test scores.

Each variant is a set of :class:`~unival.demo.multitask.MultitaskSettings` overrides
(``VARIANTS``). ``--scale F`` runs every training for F x its budget's updates with no
wall-clock cap, so the variants are compared at equal updates whatever else the machine is
doing (a variant that changes the cost of an update must then be timed alone, with the demo's
caps: ``--capped``). The toy world is written once (``OUT/toy_world``) and shared.

    python benchmarks/demo_recipe_search.py --out outputs/recipe_search \
        --variants demo,no_colour_augment --scale 0.8 [--tasks vqa,snli_ve] [--json res.json]

``--base CHECKPOINT`` skips the base and fine-tunes every variant's experts from that one
(e.g. ``make demo``'s ``outputs/demo/multitask/base/checkpoints/checkpoint_last.pt``, whose
toy world is the seed-0 one written here): a comparison of expert-side variants only.

Prints a markdown table (for BENCHMARKS.md) and writes ``OUT/results.json`` after every variant.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fairseq_plugins"))

from unival.demo.context import DemoContext, demo_environment, dump_json  # noqa: E402
from unival.demo.multitask import (  # noqa: E402
    Budget,
    MultitaskSettings,
    MultitaskStage,
    build_world,
)
from unival.demo.profiles import scale_budgets  # noqa: E402
from unival.demo.recipes import checkpoint_state  # noqa: E402
from unival.demo.runner import StageRunner  # noqa: E402
from unival.demo.tasks import IMAGE_TASKS  # noqa: E402

logger = logging.getLogger("demo_recipe_search")

# RandomAugment without the two ops that change a colour's name (Equalize turns the toy
# world's blue (40, 80, 220) into teal (0, 85, 85)); geometry and brightness stay
NO_COLOUR_OPS = "Identity,Brightness,Sharpness,ShearX,ShearY,TranslateX,TranslateY,Rotate"

VARIANTS: Dict[str, tuple] = {
    "demo": ("make demo's recipe", {}),
    "no_colour_augment": (
        "the base's RandomAugment without Equalize and AutoContrast",
        {"pretrain_augment_ops": NO_COLOUR_OPS},
    ),
    "no_augment": ("the base without RandomAugment", {"pretrain_augment_ops": "none"}),
    "base_lr_1e-3": ("the base at lr 1e-3 (demo: 5e-4)", {"pretrain_lr": 1e-3}),
    "no_ground_stream": (
        "the base without the extra grounding stream (demo: one row every 2 main rows)",
        {"pretrain_ground_every": 0},
    ),
    "no_ground_stream_1820": (
        "no extra grounding stream, 1,820 base updates (about the demo's base compute)",
        {"pretrain_ground_every": 0, "pretrain": Budget(1820, 6.0)},
    ),
    "no_location_init": (
        "random <bin_k> rows at the start (demo: sinusoidal)",
        {"sinusoidal_bins": False},
    ),
    "sinusoidal_patch_positions": (
        "sinusoidal patch positions at the start too (demo: random)",
        {"sinusoidal_patch_positions": True},
    ),
    "no_encoder_positions": (
        "positions only as attention biases (demo: also added to the encoder's inputs)",
        {"absolute_positions": False},
    ),
    "expert_lr_5e-4": ("the image experts at lr 5e-4 (demo: 2e-4)", {"expert_lr": 5e-4}),
    "vqa_from_base": (
        "VQA fine-tuned from the base (demo: from the caption expert)",
        {"vqa_from": "base"},
    ),
}
UNCAPPED_MINUTES = 24 * 60.0


def scaled(settings: MultitaskSettings, scale: float) -> MultitaskSettings:
    """``settings`` with every budget at ``round(scale x updates)`` updates
    (:func:`~unival.demo.profiles.scale_budgets`) and no practical wall-clock cap (a day)."""
    settings = scale_budgets(settings, scale)

    def uncapped(budget: Budget) -> Budget:
        return replace(budget, minutes=UNCAPPED_MINUTES)

    return replace(
        settings,
        pretrain=uncapped(settings.pretrain),
        experts={name: uncapped(b) for name, b in settings.experts.items()},
    )


def variant_settings(name: str, scale: float = 0.0) -> MultitaskSettings:
    """The demo's CPU settings with variant ``name``'s overrides; ``scale`` > 0: at fixed
    updates (:func:`scaled`)."""
    if name not in VARIANTS:
        raise SystemExit(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
    settings = replace(MultitaskSettings(), **VARIANTS[name][1])
    return scaled(settings, scale) if scale > 0 else settings


def same_world(a: MultitaskSettings, b: MultitaskSettings) -> bool:
    keys = ("num_train", "num_valid", "num_test", "image_size", "media_num_train", "video_size")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def run_variant(
    ctx: DemoContext, world: Path, name: str, settings, tasks, base: Optional[Path] = None
) -> dict:
    """Base (unless ``base`` is given) + one expert per task under ``settings``: scores,
    updates and seconds."""
    runner = StageRunner(ctx, settings, world, ctx.out / name)
    runner.work.mkdir(parents=True, exist_ok=True)
    stage = MultitaskStage(settings)
    started = time.monotonic()
    if base is None:
        base = stage.train_base(ctx, runner)
    base_seconds = round(time.monotonic() - started, 1)
    results, _ = stage.train_experts(runner, base, tasks)
    return {
        "description": VARIANTS[name][0],
        "base_updates": checkpoint_state(base)[0],
        "base_seconds": base_seconds,
        "tasks": {t: {"score": r["score"], "updates": r["updates"]} for t, r in results.items()},
        "seconds": runner.seconds,
    }


def format_table(results: Dict[str, dict], tasks: List[str]) -> str:
    """Markdown: one row per variant, ``score (updates)`` per task."""
    lines = [
        "| variant | base updates | " + " | ".join(tasks) + " |",
        "|---|---|" + "---|" * len(tasks),
    ]
    for name, r in results.items():
        cells = [
            f"{r['tasks'][t]['score']:.3f} ({r['tasks'][t]['updates']})" if t in r["tasks"] else "-"
            for t in tasks
        ]
        lines.append(
            f"| {name}: {r['description']} | {r['base_updates']} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", required=True, help="results folder (toy world, one folder per variant)"
    )
    parser.add_argument("--variants", default="demo", help=f"comma list of: {', '.join(VARIANTS)}")
    parser.add_argument(
        "--tasks",
        default=",".join(t.name for t in IMAGE_TASKS),
        help="image experts to train and score",
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--scale", type=float, help="F: every training runs F x its budget's updates, uncapped"
    )
    group.add_argument(
        "--capped", action="store_true", help="the demo's updates and wall-clock caps"
    )
    parser.add_argument("--seed", type=int, default=0, help="the toy world's seed (the demo's: 0)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument(
        "--base", type=Path, help="fine-tune every variant from this base instead of training one"
    )
    args = parser.parse_args(argv)
    if args.base is not None and not args.base.is_file():
        raise SystemExit(f"--base: {args.base} does not exist (run make demo first)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s | %(message)s", datefmt="%H:%M:%S")

    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    by_name = {t.name: t for t in IMAGE_TASKS}
    unknown = [t for t in args.tasks.split(",") if t not in by_name]
    if unknown:
        raise SystemExit(f"--tasks: unknown {unknown}; known: {', '.join(by_name)}")
    tasks = [by_name[t] for t in args.tasks.split(",")]
    scale = 0.0 if args.capped else args.scale
    if not args.capped and not scale > 0:
        raise SystemExit("--scale must be > 0")
    settings = {name: variant_settings(name, scale) for name in names}
    first = settings[names[0]]
    if not all(same_world(first, s) for s in settings.values()):
        raise SystemExit("every variant must use the same toy world settings")

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(out=out, seed=args.seed, env=demo_environment())
    world = out / "toy_world"
    if not (world / "pretrain_train.tsv").exists():
        build_world(ctx, first, world, out / "toy_world.log")
    results: Dict[str, dict] = {}
    for name in names:
        logger.info("variant %s: %s", name, VARIANTS[name][0])
        results[name] = run_variant(ctx, world, name, settings[name], tasks, args.base)
        report = {"scale": scale or None, "results": results}
        dump_json(out / "results.json", report)
        if args.json:
            dump_json(Path(args.json), report)
    sys.stdout.write(format_table(results, [t.name for t in tasks]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
