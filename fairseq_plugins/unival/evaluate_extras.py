"""Extra ``unival eval`` options: probe metrics and zero-shot evaluation (spec §8.4).

Metrics (``--metric``, repeatable; results are added to ``scores.json`` and the table):

* ``chair`` (caption tasks): CHAIR-i / CHAIR-s of the predicted captions against the objects
  of ``--gt-objects`` (a COCO instances JSON or a toy-world scenes JSON); per-caption
  mentions go to ``chair.json`` beside ``scores.json`` (:mod:`unival.metrics.chair`);
* ``pope`` (vqa_gen): accuracy, precision, recall, F1 and yes-ratio of the answers against
  ``--labels`` (default: the ``.labels.json`` beside ``--data``, as ``unival pope build``
  writes it), per strategy when the file mixes them (:mod:`unival.probes.pope`);
* ``probe`` (refcoco or vqa_gen): per-category Acc@0.5 / accuracy against ``--categories``
  (default: the ``.categories.json`` beside ``--data``; :mod:`unival.probes.scoring`).

``--domains FILE`` (caption tasks; JSON ``{image_id: domain}``, e.g. NoCaps' in-domain /
near-domain / out-domain written by ``data_utils/make_nocaps_tsv.py``) adds CIDEr-D and
BLEU-4 per domain (``cider_<domain>``, ``bleu4_<domain>``, ``n_<domain>``).

Zero-shot (spec §8.4): ``--zero-shot`` builds the task from the command line (``--task``,
default the checkpoint's own; fields the two tasks share, such as the data, dictionary, BPE
and image size, keep the checkpoint's values unless overridden) and forces the model's
``sample_patch_num`` to 776 (no patch sampling). ``--noconstraints`` decodes freely: no
answer trie (vqa_gen runs unconstrained beam search), no constraint range; with
``--prompt-type none`` VQA decodes the whole generated string.
"""
import argparse
import json
import logging
import os
from typing import Dict, List, Mapping, Optional

logger = logging.getLogger("unival.evaluate")

METRICS = ("chair", "pope", "probe")
ZERO_SHOT_SAMPLE_PATCH_NUM = 776


def add_arguments(parser: argparse.ArgumentParser) -> None:
    probes = parser.add_argument_group("probe metrics")
    probes.add_argument("--metric", action="append", choices=METRICS, default=[],
                        help="extra metric (repeatable): chair (captions), pope (VQA yes/no), probe (per category)")
    probes.add_argument("--gt-objects", help="chair: COCO instances JSON or toy-world scenes JSON")
    probes.add_argument("--labels", help="pope: labels JSON (default: DATA without .tsv + .labels.json)")
    probes.add_argument("--categories", help="probe: categories JSON (default: DATA without .tsv + .categories.json)")
    probes.add_argument("--domains", help="captions: JSON {image_id: domain}; adds CIDEr-D/BLEU-4 per domain")
    zero = parser.add_argument_group("zero-shot (spec 8.4)")
    zero.add_argument("--zero-shot", action="store_true",
                      help="build the task from the command line (--task), sample_patch_num 776")
    zero.add_argument("--task", help="with --zero-shot: the task to evaluate (default: the checkpoint's)")
    zero.add_argument("--noconstraints", action="store_true",
                      help="unconstrained generation: no answer trie, no constraint range")
    zero.add_argument("--prompt-type", choices=("none", "src", "prev_output"),
                      help="vqa_gen decoder prompt (zero-shot VQA scripts: none)")


def check_arguments(args: argparse.Namespace) -> None:
    if "chair" in args.metric and not args.gt_objects:
        raise SystemExit("unival eval: --metric chair needs --gt-objects (COCO instances or toy scenes JSON)")
    if args.task and not args.zero_shot:
        raise SystemExit("unival eval: --task only applies with --zero-shot")


def task_overrides(args: argparse.Namespace) -> Dict[str, object]:
    """Task config overrides of the zero-shot options."""
    overrides: Dict[str, object] = {}
    if getattr(args, "prompt_type", None) is not None:
        overrides["prompt_type"] = args.prompt_type
    if getattr(args, "noconstraints", False):
        overrides.update(unconstrained_training=True, val_inference_type="beamsearch", constraint_range=None)
    return overrides


def model_overrides(args: argparse.Namespace) -> Dict[str, object]:
    return {"sample_patch_num": ZERO_SHOT_SAMPLE_PATCH_NUM} if getattr(args, "zero_shot", False) else {}


def zero_shot_task(args: argparse.Namespace, path: str, overrides: Mapping[str, object]):
    """The task named by ``--task`` (else the checkpoint's), configured from the checkpoint's
    task fields it shares, then ``overrides``."""
    import dataclasses

    from fairseq import checkpoint_utils, tasks
    from fairseq.tasks import TASK_DATACLASS_REGISTRY
    from omegaconf import OmegaConf

    state = checkpoint_utils.load_checkpoint_to_cpu(path)
    saved = OmegaConf.to_container(state["cfg"]["task"], resolve=True)
    name = args.task or saved["_name"]
    if name not in TASK_DATACLASS_REGISTRY:
        raise SystemExit(f"unival eval: unknown task {name!r}")
    fields = {f.name for f in dataclasses.fields(TASK_DATACLASS_REGISTRY[name])}
    values = {k: v for k, v in saved.items() if k in fields and k != "_name"}
    values.update({k: v for k, v in overrides.items() if k in fields})
    logger.info("zero-shot: task %s built from the command line (checkpoint task %s)", name, saved["_name"])
    return tasks.setup_task(OmegaConf.create({"_name": name, **values}))


def _side_file(given: Optional[str], data: str, suffix: str) -> str:
    path = given or (data[:-4] if data.endswith(".tsv") else data) + suffix
    if not os.path.isfile(path):
        raise SystemExit(f"unival eval: {path} not found (give it with the metric's option)")
    return path


def _load(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def domain_scores(predictions: Mapping, references: Mapping, domains_path: str, score_fn) -> Dict[str, object]:
    """``score_fn(predictions, references)`` per domain of ``{image_id: domain}``."""
    from unival.probes.ground_truth import json_id

    domains = {json_id(k): v for k, v in _load(domains_path).items()}
    out: Dict[str, object] = {}
    for domain in sorted(set(domains.values())):
        keys = [k for k in predictions if domains.get(k) == domain]
        if keys:
            part = score_fn({k: predictions[k] for k in keys}, {k: references[k] for k in keys})
            out.update({f"cider_{domain}": part["cider"], f"bleu4_{domain}": part["bleu4"], f"n_{domain}": part["n"]})
    missing = sum(k not in domains for k in predictions)
    if missing:
        logger.warning("%d predicted images have no domain in %s", missing, domains_path)
    return out


def caption_extras(args, predictions: Mapping, references: Mapping, score_fn) -> Dict[str, object]:
    """Scores of ``--metric chair`` and ``--domains`` for ``{image_id: caption}``."""
    out: Dict[str, object] = {}
    if args.domains:
        out.update(domain_scores(predictions, references, args.domains, score_fn))
    if "chair" in args.metric:
        from unival.metrics.chair import chair_scores
        from unival.probes.ground_truth import load_ground_truth

        gt = load_ground_truth(args.gt_objects)
        scores, records = chair_scores(predictions, gt.objects, gt.vocabulary)
        os.makedirs(args.results_path, exist_ok=True)
        with open(os.path.join(args.results_path, "chair.json"), "w", encoding="utf-8") as f:
            json.dump({"scores": scores, "vocabulary": gt.vocabulary.name, "captions": records}, f, indent=1)
        out.update(scores)
    for metric in set(args.metric) - {"chair"}:
        raise SystemExit(f"unival eval: --metric {metric} does not apply to a captioning task")
    return out


def record_extras(args, records: List[dict]) -> Dict[str, object]:
    """Scores of ``--metric pope`` / ``probe`` for a task's prediction records (flattened)."""
    out: Dict[str, object] = {}
    if "chair" in args.metric:
        raise SystemExit("unival eval: --metric chair needs a captioning checkpoint/task")
    if "pope" in args.metric:
        from unival.probes.pope import score_pope_records

        scores = score_pope_records(records, _load(_side_file(args.labels, args.data, ".labels.json")))
        by_strategy = scores.pop("by_strategy", {})
        out.update({f"pope_{k}": v for k, v in scores.items()})
        for strategy, values in by_strategy.items():
            out.update({f"pope_{strategy}_{k}": v for k, v in values.items() if k in ("accuracy", "f1", "yes_ratio")})
    if "probe" in args.metric:
        from unival.probes.scoring import score_probe

        scores = score_probe(records, _load(_side_file(args.categories, args.data, ".categories.json")))
        for category, values in scores.items():
            out.update({f"probe_{category}_{k}": v for k, v in values.items()})
    return out
