"""``make demo``'s probes stage (issue 7): how often the toy experts hallucinate objects.

* **CHAIR** of the multitask stage's caption expert on the test images: object mentions
  ("red circle", "triangle") that are not in the scene (CHAIR-i over mentions, CHAIR-s over
  captions; :mod:`unival.metrics.chair`), with the toy world's exact ground truth. The
  first reference caption of each image is scored too, as a control (it must be 0).
* **POPE** through the VQA expert: "is there a X?" for the scene's objects and for random,
  popular and adversarial absent ones (:mod:`unival.probes.pope`), evaluated with
  ``run_scripts/vqa/eval.sh ... --metric pope``: accuracy, precision, recall, F1, yes-ratio.

The complex-instruction probe (:mod:`unival.probes.complex_suite`) is not part of the demo:
its questions use words ("nearest", "corner", "more ... than") the toy dictionary lacks.
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Dict, List

from unival.demo import RUN_SCRIPTS, DemoContext

logger = logging.getLogger("unival.demo")
POPE_KEYS = ("accuracy", "precision", "recall", "f1", "yes_ratio")


def first_references(test_tsv: Path) -> Dict[int, str]:
    """``{image_id: first reference caption}`` of a caption test TSV (references "&&"-joined)."""
    out = {}
    with open(test_tsv, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = line.rstrip("\n").split("\t")
                out[int(row[1])] = row[2].split("&&")[0]
    return out


def caption_chair(predictions_json: Path, test_tsv: Path, scenes_json: Path) -> Dict[str, dict]:
    """CHAIR of the predicted captions and of the first references (control)."""
    from unival.metrics.chair import chair_scores
    from unival.probes.ground_truth import load_ground_truth

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
        if ctx.world is None or not {"caption", "vqa"} <= set(experts):
            raise SystemExit("the probes stage scores the multitask stage's experts: "
                             "run --stages multitask,probes")
        started = time.monotonic()
        work = ctx.out / self.name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        chair = caption_chair(ctx.out / "multitask" / "caption" / "eval" / "predictions.json",
                              ctx.world / "caption_test.tsv", ctx.world / "scenes_test.json")
        pope = self.pope(ctx, experts["vqa"], work)
        self.results = {"chair": chair, "pope": pope, "seconds": round(time.monotonic() - started, 1)}
        return self.results

    def pope(self, ctx: DemoContext, checkpoint: Path, work: Path) -> Dict[str, dict]:
        from unival.probes.ground_truth import load_ground_truth
        from unival.probes.pope import build_pope

        gt = load_ground_truth(ctx.world / "scenes_test.json")
        built = build_pope(gt, work / "pope", image_dir=str(ctx.world))
        scores = {}
        for strategy, files in built.items():
            results = work / f"pope_{strategy}"
            logger.info("probes: POPE %s (%d questions) with the VQA expert", strategy, files["n"])
            env = {"UNIVAL_DATA": str(ctx.world), "CHECKPOINT": str(checkpoint), "RESULTS_DIR": str(results),
                   "TEST_DATA": files["tsv"], "DEVICE": "cpu", "BATCH_SIZE": "25", "PATCH_IMAGE_SIZE": "64",
                   "EMA_EVAL": "0", "EXTRA_ARGS": "--metric=pope"}
            ctx.run(["bash", str(RUN_SCRIPTS / "vqa" / "eval.sh")], work / "eval.log", env)
            saved = json.loads((results / "scores.json").read_text())
            scores[strategy] = {key: saved[f"pope_{key}"] for key in POPE_KEYS}
            scores[strategy]["n"] = files["n"]
        return scores

    def describe(self) -> str:
        chair, pope = self.results["chair"], self.results["pope"]
        lines: List[str] = ["probes (hallucination; lower CHAIR is better):"]
        for name, s in chair.items():
            lines.append(f"  CHAIR {name:<16} CHAIR-i {s['chair_i']:.3f}  CHAIR-s {s['chair_s']:.3f}  "
                         f"coverage {s['coverage']:.3f}  ({s['n_captions']} captions, {s['n_mentions']} mentions)")
        for strategy, s in pope.items():
            lines.append(f"  POPE {strategy:<12} " + "  ".join(f"{k} {s[k]:.3f}" for k in POPE_KEYS)
                         + f"  ({s['n']} questions)")
        return "\n".join(lines)
