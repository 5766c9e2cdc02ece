"""Reduce object hallucination without retraining: SCST with a CHAIR penalty.

Starts from the caption expert of a ``make demo`` run (``--demo-dir``: its ``toy_world`` and
``multitask/caption`` checkpoint) and fine-tunes it with self-critical sequence training
(``run_scripts/caption/train_scst.sh``) for the same number of updates per arm:

* ``expert``: the unmodified caption expert (no training);
* ``scst_cider``: SCST with the CIDEr-D reward only;
* ``scst_chair_<L>``: SCST with reward CIDEr-D - L x (hallucinated object mentions), the
  toy world's exact scene objects as ground truth (``CHAIR_PENALTY`` / ``CHAIR_GT``);
* ``scst_chair_<L>_bonus_<M>``: the same plus M x (correctly named objects) (``CHAIR_BONUS``),
  so that naming nothing no longer escapes the penalty.

``--arms 0,2,2+1`` lists the SCST arms as penalty[+bonus]. The defaults (300 updates, lr 1e-4,
5 sampled top-5 captions per image) held over three seeds on two demo caption experts with few
hallucinations; on one with many, the CHAIR arm collapsed at one seed of three (BENCHMARKS.md
section 7).

Every arm is evaluated on the toy test images by ``run_scripts/caption/eval.sh`` with
``--metric chair``: CIDEr-D, CHAIR-i, CHAIR-s and coverage (the share of the scenes' objects
the captions name correctly: a model that stops naming objects is not "less hallucinating").

    python benchmarks/bench_hallucination.py --demo-dir outputs/demo --out outputs/hallucination

Writes ``OUT/results.json`` and prints a markdown table (for BENCHMARKS.md).
"""

import argparse
import json
import logging
import shlex
import sys
import time
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "fairseq_plugins"))

from unival.data.schemas import CAPTION, read_rows  # noqa: E402
from unival.demo.context import RUN_SCRIPTS, DemoContext, demo_environment  # noqa: E402
from unival.demo.multitask import MultitaskSettings  # noqa: E402
from unival.demo.recipes import NO_VIDEO_ENCODER, common_train_env  # noqa: E402

logger = logging.getLogger("bench_hallucination")
SCORE_KEYS = ("cider", "chair_i", "chair_s", "coverage", "n_mentions", "n_hallucinated")


def per_image_rows(caption_tsv: Path, out: Path, limit: int) -> int:
    """Write ``out``: one row per image of ``caption_tsv`` (uniq_id, image_id, caption, objects,
    image), uniq_id = image_id and the image's captions joined by "&&" (the SCST training
    format; the CHAIR penalty finds the scene by uniq_id). At most ``limit`` images."""
    images: "OrderedDict[str, Dict[str, str]]" = OrderedDict()
    captions: Dict[str, List[str]] = {}
    for row in read_rows(caption_tsv, CAPTION):
        image_id = row["image_id"]
        if image_id not in images:
            if len(images) == limit:
                continue
            images[image_id] = row
            captions[image_id] = []
        captions[image_id].append(row["caption"])
    with open(out, "w", encoding="utf-8") as f:
        for image_id, row in images.items():
            fields = [
                image_id,
                image_id,
                "&&".join(captions[image_id]),
                row["object_labels"],
                row["image"],
            ]
            f.write("\t".join(fields) + "\n")
    return len(images)


def parse_arms(text: str) -> Dict[str, tuple]:
    """``"0,2,2+1"`` -> {"scst_cider": (0, 0), "scst_chair_2": (2, 0),
    "scst_chair_2_bonus_1": (2, 1)}."""
    arms = {}
    for item in text.split(","):
        penalty, _, bonus = item.partition("+")
        try:
            p, b = float(penalty), float(bonus or 0)
        except ValueError:
            raise SystemExit(f"--arms: {item!r} is not penalty[+bonus] (numbers)") from None
        name = (
            "scst_cider"
            if p == 0 and b == 0
            else f"scst_chair_{p:g}" + (f"_bonus_{b:g}" if b else "")
        )
        arms[name] = (p, b)
    return arms


def scst_env(
    args,
    world: Path,
    train_tsv: Path,
    init: Path,
    save_dir: Path,
    penalty: float,
    bonus: float = 0.0,
) -> Dict[str, str]:
    """``run_scripts/caption/train_scst.sh``: the demo's tiny recipe, ``args.updates`` SCST
    updates."""
    settings = MultitaskSettings()
    scst_args = {"beam": args.samples, "max_len_b": 24}
    if args.sampling:
        scst_args.update(sampling=True, sampling_topk=args.sampling_topk)
    extra = [
        f"--max-update={args.updates}",
        f"--total-num-update={args.updates}",
        "--disable-validation",
        NO_VIDEO_ENCODER,
    ]
    env = {
        **common_train_env(settings),
        "UNIVAL_DATA": str(world),
        "TRAIN_DATA": str(train_tsv),
        "VALID_DATA": str(world / "caption_valid.tsv"),
        "DICT_PATH": str(world / "dict.txt"),
        "INIT_CHECKPOINT": str(init),
        "SAVE_DIR": str(save_dir),
        "LR": str(args.lr),
        "BATCH_SIZE": str(args.batch_size),
        "WARMUP_RATIO": "0.0",
        "SEED": str(args.seed),
        "SCST_ARGS": json.dumps(scst_args),
        "EXTRA_ARGS": shlex.join(extra),
    }
    if penalty > 0 or bonus > 0:
        env.update(
            CHAIR_PENALTY=str(penalty),
            CHAIR_BONUS=str(bonus),
            CHAIR_GT=str(world / "scenes_train.json"),
        )
    return env


def eval_env(world: Path, checkpoint: Path, results: Path, beam: int) -> Dict[str, str]:
    """``run_scripts/caption/eval.sh`` on the test split with CHAIR against the test scenes."""
    return {
        "UNIVAL_DATA": str(world),
        "CHECKPOINT": str(checkpoint),
        "RESULTS_DIR": str(results),
        "TEST_DATA": str(world / "caption_test.tsv"),
        "DEVICE": "cpu",
        "BATCH_SIZE": "25",
        "PATCH_IMAGE_SIZE": "64",
        "BEAM": str(beam),
        "EXTRA_ARGS": shlex.join(["--metric=chair", f"--gt-objects={world / 'scenes_test.json'}"]),
    }


def format_table(results: Dict[str, dict]) -> str:
    lines = [
        "| arm | CIDEr-D | CHAIR-i | CHAIR-s | coverage | mentions | hallucinated | train s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for arm, r in results.items():
        lines.append(
            f"| {arm} | {r['cider']:.3f} | {r['chair_i']:.3f} | {r['chair_s']:.3f} | "
            f"{r['coverage']:.3f} | {r['n_mentions']} | {r['n_hallucinated']} | "
            f"{r.get('train_seconds', 0):.0f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--demo-dir", required=True, help="a make demo output folder (toy_world, multitask/caption)"
    )
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--arms",
        default="0,2,2+1",
        help="comma list of SCST arms, each CHAIR penalty[+correct-mention bonus]; "
        "0 = CIDEr-D only",
    )
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument(
        "--images", type=int, default=1500, help="training images (one SCST row each)"
    )
    parser.add_argument("--batch-size", type=int, default=8, help="images per update")
    parser.add_argument(
        "--samples", type=int, default=5, help="captions per image (beam or samples)"
    )
    parser.add_argument(
        "--sampling",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="sample the captions (top-k; default) or, with --no-sampling, take beam search's "
        "(which collapsed at lr 2e-4: BENCHMARKS.md section 7)",
    )
    parser.add_argument("--sampling-topk", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--beam", type=int, default=3, help="evaluation beam (the demo's)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s | %(message)s", datefmt="%H:%M:%S")

    demo = Path(args.demo_dir).resolve()
    world, expert = (
        demo / "toy_world",
        demo / "multitask" / "caption" / "checkpoints" / "checkpoint_last.pt",
    )
    for needed in (world / "scenes_train.json", world / "caption_train.tsv", expert):
        if not needed.exists():
            raise SystemExit(
                f"{needed} is missing: run `make demo` "
                f"(or python -m unival.demo --out {demo}) first"
            )
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(out=out, seed=args.seed, env=demo_environment())
    train_tsv = out / "caption_scst_train.tsv"
    n_images = per_image_rows(world / "caption_train.tsv", train_tsv, args.images)
    logger.info("SCST training file %s: %d images", train_tsv, n_images)

    arms = {"expert": None, **parse_arms(args.arms)}
    results: Dict[str, dict] = {}
    for arm, weights in arms.items():
        checkpoint, seconds = expert, 0.0
        if weights is not None:
            save_dir = out / arm
            started = time.monotonic()
            logger.info("%s: %d SCST updates (penalty %g, bonus %g)", arm, args.updates, *weights)
            ctx.run(
                ["bash", str(RUN_SCRIPTS / "caption" / "train_scst.sh")],
                out / "train.log",
                {**scst_env(args, world, train_tsv, expert, save_dir, *weights), "RESUME": "0"},
            )
            checkpoint, seconds = save_dir / "checkpoint_last.pt", time.monotonic() - started
        results_dir = out / f"eval_{arm}"
        ctx.run(
            ["bash", str(RUN_SCRIPTS / "caption" / "eval.sh")],
            out / "eval.log",
            eval_env(world, checkpoint, results_dir, args.beam),
        )
        scores = json.loads((results_dir / "scores.json").read_text())
        results[arm] = {k: scores[k] for k in SCORE_KEYS}
        results[arm].update(train_seconds=round(seconds, 1), penalty_bonus=weights)
        logger.info("%s: %s", arm, results[arm])
        (out / "results.json").write_text(
            json.dumps({"settings": vars(args), "results": results}, indent=1) + "\n"
        )
    sys.stdout.write(format_table(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
