"""Probe scores that ``unival eval`` adds to ``scores.json`` (``--metric``, ``--domains``).

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
"""

import json
import logging
import os
from typing import Dict, List, Mapping, Optional

from unival.metrics.chair import chair_scores
from unival.probes.ground_truth import json_id, load_ground_truth
from unival.probes.pope import score_pope_records
from unival.probes.scoring import score_probe

logger = logging.getLogger("unival.evaluate")

METRICS = ("chair", "pope", "probe")


def _side_file(given: Optional[str], data: str, suffix: str) -> str:
    path = given or (data[:-4] if data.endswith(".tsv") else data) + suffix
    if not os.path.isfile(path):
        raise SystemExit(f"unival eval: {path} not found (give it with the metric's option)")
    return path


def _load(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def domain_scores(
    predictions: Mapping, references: Mapping, domains_path: str, score_fn
) -> Dict[str, object]:
    """``score_fn(predictions, references)`` per domain of ``{image_id: domain}``."""
    domains = {json_id(k): v for k, v in _load(domains_path).items()}
    out: Dict[str, object] = {}
    for domain in sorted(set(domains.values())):
        keys = [k for k in predictions if domains.get(k) == domain]
        if keys:
            part = score_fn({k: predictions[k] for k in keys}, {k: references[k] for k in keys})
            out.update(
                {
                    f"cider_{domain}": part["cider"],
                    f"bleu4_{domain}": part["bleu4"],
                    f"n_{domain}": part["n"],
                }
            )
    missing = sum(k not in domains for k in predictions)
    if missing:
        logger.warning("%d predicted images have no domain in %s", missing, domains_path)
    return out


def caption_probe_scores(
    args, predictions: Mapping, references: Mapping, score_fn
) -> Dict[str, object]:
    """Scores of ``--metric chair`` and ``--domains`` for ``{image_id: caption}``."""
    out: Dict[str, object] = {}
    if args.domains:
        out.update(domain_scores(predictions, references, args.domains, score_fn))
    if "chair" in args.metric:
        gt = load_ground_truth(args.gt_objects)
        scores, records = chair_scores(predictions, gt.objects, gt.vocabulary)
        os.makedirs(args.results_path, exist_ok=True)
        with open(os.path.join(args.results_path, "chair.json"), "w", encoding="utf-8") as f:
            json.dump(
                {"scores": scores, "vocabulary": gt.vocabulary.name, "captions": records},
                f,
                indent=1,
            )
        out.update(scores)
    for metric in set(args.metric) - {"chair"}:
        raise SystemExit(f"unival eval: --metric {metric} does not apply to a captioning task")
    return out


def record_probe_scores(args, records: List[dict]) -> Dict[str, object]:
    """Scores of ``--metric pope`` / ``probe`` for a task's prediction records (flattened)."""
    out: Dict[str, object] = {}
    if "chair" in args.metric:
        raise SystemExit("unival eval: --metric chair needs a captioning checkpoint/task")
    if "pope" in args.metric:
        scores = score_pope_records(
            records, _load(_side_file(args.labels, args.data, ".labels.json"))
        )
        by_strategy = scores.pop("by_strategy", {})
        out.update({f"pope_{k}": v for k, v in scores.items()})
        for strategy, values in by_strategy.items():
            out.update(
                {
                    f"pope_{strategy}_{k}": v
                    for k, v in values.items()
                    if k in ("accuracy", "f1", "yes_ratio")
                }
            )
    if "probe" in args.metric:
        scores = score_probe(
            records, _load(_side_file(args.categories, args.data, ".categories.json"))
        )
        for category, values in scores.items():
            out.update({f"probe_{category}_{k}": v for k, v in values.items()})
    return out
