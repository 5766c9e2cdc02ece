"""``make demo``'s probes stage: how often the toy experts hallucinate objects.

* **CHAIR** of the multitask stage's caption expert on the test images: object mentions
  ("red circle", "triangle") that are not in the scene (CHAIR-i over mentions, CHAIR-s over
  captions; :mod:`unival.metrics.chair`), with the toy world's exact ground truth. The
  first reference caption of each image is scored too, as a control (it must be 0).
* **POPE** through the VQA expert: "is there a X?" for the scene's objects and for random,
  popular and adversarial absent ones (:mod:`unival.probes.pope`), evaluated with
  ``run_scripts/vqa/eval.sh ... --metric pope``: accuracy, precision, recall, F1, yes-ratio.

* **Complex instructions** (:mod:`unival.probes.complex_suite`): ``COMPLEX_SCENES`` fresh
  probe scenes (3-4 shapes, often two of the same colour and shape); the RefCOCO expert
  grounds "the shape farthest from the blue square", "the big red circle" (beside a small
  one), ... and the VQA expert answers "are there more circles than squares?", "what colour
  is the shape nearest to the top left corner?", ... (answers constrained to the probe's
  candidates). Scored per category beside chance levels (:mod:`unival.probes.baselines`):
  a random shape of the scene and the mean training box for grounding, the best constant
  answer per category and the colour of a random shape for VQA. The experts never saw such
  instructions in training: this measures how far the skills they have (colours, counts,
  simple relations) carry.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Dict, List

from unival.data.schemas import CAPTION, read_rows
from unival.demo.context import RUN_SCRIPTS, DemoContext
from unival.metrics.chair import chair_scores
from unival.probes.baselines import (
    constant_answer_baseline,
    constant_box_baseline,
    random_object_baseline,
    random_object_colour_baseline,
    scene_boxes_of,
    scene_colours_of,
)
from unival.probes.complex_suite import build_probe_suite
from unival.probes.ground_truth import load_ground_truth
from unival.probes.pope import build_pope
from unival.probes.scoring import score_probe

logger = logging.getLogger("unival.demo")
POPE_KEYS = ("accuracy", "precision", "recall", "f1", "yes_ratio")
COMPLEX_SCENES = 40  # about 330 grounding and 600 VQA items: under a minute of evaluation


def first_references(test_tsv: Path) -> Dict[int, str]:
    """``{image_id: first reference caption}`` of a caption test TSV (references "&&"-joined)."""
    return {
        int(row["image_id"]): row["caption"].split("&&")[0] for row in read_rows(test_tsv, CAPTION)
    }


def caption_chair(predictions_json: Path, test_tsv: Path, scenes_json: Path) -> Dict[str, dict]:
    """CHAIR of the predicted captions and of the first references (control)."""

    gt = load_ground_truth(scenes_json)
    predicted = {int(p["image_id"]): p["caption"] for p in json.loads(predictions_json.read_text())}
    model, _ = chair_scores(predicted, gt.objects, gt.vocabulary)
    control, _ = chair_scores(first_references(test_tsv), gt.objects, gt.vocabulary)
    return {"caption_expert": model, "references": control}


class ProbesStage:
    """CHAIR of the caption expert and POPE of the VQA expert (needs the multitask stage)."""

    name = "probes"
    has_task_table = True

    def run(self, ctx: DemoContext) -> Dict:
        experts = ctx.experts or {}
        if ctx.world is None or not {"caption", "vqa", "refcoco"} <= set(experts):
            raise SystemExit(
                "the probes stage scores the multitask stage's experts: "
                "run --stages multitask,probes"
            )
        started = time.monotonic()
        work = ctx.out / self.name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        chair = caption_chair(
            ctx.out / "multitask" / "caption" / "eval" / "predictions.json",
            ctx.world / "caption_test.tsv",
            ctx.world / "scenes_test.json",
        )
        pope = self.pope(ctx, experts["vqa"], work)
        complex_ = self.complex(ctx, experts, work)
        self.results = {
            "chair": chair,
            "pope": pope,
            "complex": complex_,
            "seconds": round(time.monotonic() - started, 1),
        }
        return self.results

    def pope(self, ctx: DemoContext, checkpoint: Path, work: Path) -> Dict[str, dict]:

        gt = load_ground_truth(ctx.world / "scenes_test.json")
        built = build_pope(gt, work / "pope", image_dir=str(ctx.world))
        scores = {}
        for strategy, files in built.items():
            results = work / f"pope_{strategy}"
            logger.info("probes: POPE %s (%d questions) with the VQA expert", strategy, files["n"])
            env = {
                "UNIVAL_DATA": str(ctx.world),
                "CHECKPOINT": str(checkpoint),
                "RESULTS_DIR": str(results),
                "TEST_DATA": files["tsv"],
                "DEVICE": ctx.device,
                "BATCH_SIZE": "25",
                "PATCH_IMAGE_SIZE": str(ctx.image_size),
                "EMA_EVAL": "0",
                "EXTRA_ARGS": "--metric=pope",
            }
            ctx.run(["bash", str(RUN_SCRIPTS / "vqa" / "eval.sh")], work / "eval.log", env)
            saved = json.loads((results / "scores.json").read_text())
            scores[strategy] = {key: saved[f"pope_{key}"] for key in POPE_KEYS}
            scores[strategy]["n"] = files["n"]
        return scores

    def complex(self, ctx: DemoContext, experts: Dict[str, Path], work: Path) -> Dict[str, dict]:
        """Per-category scores of the RefCOCO and VQA experts on the complex-instruction probe."""

        suite = work / "complex"
        build_probe_suite(suite, num_scenes=COMPLEX_SCENES, seed=ctx.seed)
        scenes = json.loads((suite / "probe_scenes.json").read_text())
        out = {}
        for kind, (task, name, env) in complex_eval_envs(
            ctx.world, experts, suite, work, ctx.device, ctx.image_size
        ).items():
            logger.info("probes: complex instructions, %s with the %s expert", kind, task)
            ctx.run(["bash", str(RUN_SCRIPTS / task / "eval.sh")], work / "eval.log", env)
            predictions = json.loads((Path(env["RESULTS_DIR"]) / "predictions.json").read_text())
            categories = json.loads((suite / f"{name}.categories.json").read_text())
            out[kind] = {"model": score_probe(predictions, categories)}
            if kind == "vqa":
                out[kind]["best_constant_answer"] = constant_answer_baseline(categories)
                out[kind]["random_shape_colour"] = random_object_colour_baseline(
                    categories, scene_colours_of(scenes)
                )
            else:
                mean_box = json.loads((ctx.world / "baselines.json").read_text())["test"][
                    "refcoco"
                ]["mean_box"]
                out[kind]["random_shape"] = random_object_baseline(
                    categories, scene_boxes_of(scenes)
                )
                out[kind]["mean_training_box"] = constant_box_baseline(categories, mean_box)
        return out

    def describe(self) -> str:
        chair, pope = self.results["chair"], self.results["pope"]
        lines: List[str] = ["probes (hallucination; lower CHAIR is better):"]
        for name, s in chair.items():
            lines.append(
                f"  CHAIR {name:<16} CHAIR-i {s['chair_i']:.3f}  CHAIR-s {s['chair_s']:.3f}  "
                f"coverage {s['coverage']:.3f}  "
                f"({s['n_captions']} captions, {s['n_mentions']} mentions)"
            )
        for strategy, s in pope.items():
            lines.append(
                f"  POPE {strategy:<12} "
                + "  ".join(f"{k} {s[k]:.3f}" for k in POPE_KEYS)
                + f"  ({s['n']} questions)"
            )
        return "\n".join(lines + complex_lines(self.results.get("complex") or {}))


def complex_eval_envs(
    world: Path,
    experts: Dict[str, Path],
    suite: Path,
    work: Path,
    device: str = "cpu",
    image_size: int = 64,
) -> Dict[str, tuple]:
    """``{kind: (run-script task, probe file stem, eval.sh environment)}`` of the probe in
    ``suite``: the RefCOCO expert on probe_refcoco.tsv, the VQA expert on probe_vqa.tsv with
    the probe's candidate answers; results in ``work/complex_<kind>``."""
    common = {
        "UNIVAL_DATA": str(world),
        "DEVICE": device,
        "BATCH_SIZE": "25",
        "PATCH_IMAGE_SIZE": str(image_size),
    }
    runs = {
        "grounding": ("refcoco", "probe_refcoco", {}),
        "vqa": (
            "vqa",
            "probe_vqa",
            {"ANS2LABEL": str(suite / "probe_answers.txt"), "EMA_EVAL": "0"},
        ),
    }
    return {
        kind: (
            task,
            name,
            {
                **common,
                **extra,
                "CHECKPOINT": str(experts[task]),
                "RESULTS_DIR": str(work / f"complex_{kind}"),
                "TEST_DATA": str(suite / f"{name}.tsv"),
            },
        )
        for kind, (task, name, extra) in runs.items()
    }


def complex_lines(complex_: Dict[str, dict]) -> List[str]:
    """The complex-instruction table: per category, the expert's score, then each chance level."""
    lines = []
    for kind, systems in complex_.items():
        names = list(systems)
        metric = "acc@0.5" if kind == "grounding" else "accuracy"
        lines.append(
            f"  complex instructions, {kind} ({metric}):"
            + "".join(f"{n:>22}" for n in names)
            + "      n"
        )
        for category, values in systems["model"].items():
            row = "".join(
                f"{systems[n][category][metric]:>22.3f}" if category in systems[n] else f"{'-':>22}"
                for n in names
            )
            lines.append(f"    {category:<33}{row}{values['n']:>7}")
    return lines
