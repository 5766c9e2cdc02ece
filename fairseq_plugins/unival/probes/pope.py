"""POPE-style yes/no probe sets (Li et al., 2023) in the ``vqa_gen`` TSV layout.

For every image with at least one probe object (:attr:`GroundTruth.probe_objects`), ``k``
present objects (at most ``per_image``, at random) are asked about with answer "yes", and
``k`` absent ones with answer "no", chosen per strategy:

* ``random``: uniformly among the absent objects;
* ``popular``: the absent objects present in the most images of the ground truth;
* ``adversarial``: the absent objects that co-occur most with the image's present objects
  (sum over present objects of the images holding both); ties by popularity, then name.

Files under ``out_dir``, per strategy: ``pope_<strategy>.tsv`` (question_id, image_id,
question, "1.0|!+yes" or "1.0|!+no", "", image base64; ``--selected-cols 0,5,2,3,4``) and
``pope_<strategy>.labels.json`` (``{question_id: {"label", "object", "strategy",
"image_id"}}``, what ``unival eval --metric pope`` reads). Question ids count from 1 in each
file; the positives are the same in every strategy's file.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections import Counter
from itertools import combinations
from typing import Dict, Hashable, List, Optional, Sequence

from unival.data.convert.common import write_tsv
from unival.metrics.pope import pope_scores_by_group
from unival.probes.ground_truth import GroundTruth

logger = logging.getLogger(__name__)

STRATEGIES = ("random", "popular", "adversarial")
COCO_TEMPLATE = "is there a {object} in the image?"
TOY_TEMPLATE = "is there a {object}?"  # the toy world's own presence question


def object_statistics(gt: GroundTruth, objects: Sequence[str]):
    """(images per object, images per unordered object pair) over the ground truth."""
    allowed = set(objects)
    frequency: Counter = Counter()
    pairs: Counter = Counter()
    for present in gt.objects.values():
        kept = sorted(set(present) & allowed)
        frequency.update(kept)
        pairs.update(combinations(kept, 2))
    return frequency, pairs


def negatives(
    strategy: str,
    present: Sequence[str],
    absent: Sequence[str],
    count: int,
    frequency: Counter,
    pairs: Counter,
    rng: random.Random,
) -> List[str]:
    """``count`` absent objects by ``strategy`` (see the module docstring)."""
    absent = sorted(absent)
    if strategy == "random":
        return rng.sample(absent, min(count, len(absent)))
    if strategy == "popular":
        return sorted(absent, key=lambda o: (-frequency[o], o))[:count]
    if strategy == "adversarial":

        def together(o):
            return sum(pairs[tuple(sorted((o, p)))] for p in present)

        return sorted(absent, key=lambda o: (-together(o), -frequency[o], o))[:count]
    raise ValueError(f"unknown POPE strategy {strategy!r}: use one of {STRATEGIES}")


def pope_items(
    gt: GroundTruth,
    strategy: str,
    per_image: int = 3,
    seed: int = 0,
    image_ids: Optional[Sequence[Hashable]] = None,
) -> List[dict]:
    """``[{"image_id", "object", "label"}]``: per image, positives then negatives."""
    objects = gt.probe_objects
    frequency, pairs = object_statistics(gt, objects)
    items = []
    for image_id in image_ids if image_ids is not None else list(gt.objects):
        present = sorted(set(gt.objects[image_id]) & set(objects))
        if not present:
            continue
        rng = random.Random(f"pope/{seed}/{image_id}")  # the same positives in every strategy
        chosen = rng.sample(present, min(per_image, len(present)))
        absent = [o for o in objects if o not in set(present)]
        strategy_rng = random.Random(f"pope/{seed}/{image_id}/{strategy}")
        wrong = negatives(strategy, present, absent, len(chosen), frequency, pairs, strategy_rng)
        items += [{"image_id": image_id, "object": o, "label": "yes"} for o in chosen]
        items += [{"image_id": image_id, "object": o, "label": "no"} for o in wrong]
    return items


def build_pope(
    gt: GroundTruth,
    out_dir: str | os.PathLike,
    strategies: Sequence[str] = STRATEGIES,
    per_image: int = 3,
    seed: int = 0,
    image_dir: Optional[str] = None,
    template: Optional[str] = None,
    max_images: Optional[int] = None,
) -> Dict[str, dict]:
    """Write the files of the module docstring; returns ``{strategy: {"tsv", "labels", "n",
    "n_yes"}}``. ``template`` defaults to :data:`TOY_TEMPLATE` / :data:`COCO_TEMPLATE`."""
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    template = template or (TOY_TEMPLATE if gt.kind == "toy" else COCO_TEMPLATE)
    if "{object}" not in template:
        raise ValueError(f"the question template must contain '{{object}}': {template!r}")
    image_ids = list(gt.objects)[:max_images] if max_images else None
    images: Dict[Hashable, str] = {}
    summary = {}
    for strategy in strategies:
        items = pope_items(gt, strategy, per_image, seed, image_ids)
        rows, labels = [], {}
        for qid, item in enumerate(items, start=1):
            image_id = item["image_id"]
            if image_id not in images:
                images[image_id] = gt.image_b64(image_id, image_dir)
            rows.append(
                [
                    str(qid),
                    str(image_id),
                    template.format(object=item["object"]),
                    f"1.0|!+{item['label']}",
                    "",
                    images[image_id],
                ]
            )
            labels[str(qid)] = dict(item, strategy=strategy)
        tsv = os.path.join(out_dir, f"pope_{strategy}.tsv")
        label_path = os.path.join(out_dir, f"pope_{strategy}.labels.json")
        write_tsv(tsv, rows)
        with open(label_path, "w", encoding="utf-8") as f:
            json.dump(labels, f, indent=1)
        summary[strategy] = {
            "tsv": tsv,
            "labels": label_path,
            "n": len(rows),
            "n_yes": sum(i["label"] == "yes" for i in items),
        }
        logger.info(
            "POPE %s: %d questions (%d yes) -> %s",
            strategy,
            len(rows),
            summary[strategy]["n_yes"],
            tsv,
        )
    return summary


def labels_path_for(tsv: str | os.PathLike) -> str:
    """``pope_random.tsv`` -> ``pope_random.labels.json`` (the builder's side file)."""
    base = os.fspath(tsv)
    return (base[:-4] if base.endswith(".tsv") else base) + ".labels.json"


def score_pope_records(records: Sequence[dict], labels: Dict[str, dict]) -> Dict[str, object]:
    """POPE scores of ``unival eval`` VQA records (``question_id``, ``answer``) against the
    builder's labels: overall keys plus ``by_strategy``. An unlabelled question is an error."""

    rows = []
    for record in records:
        key = str(record["question_id"])
        if key not in labels:
            raise ValueError(f"question {key} has no POPE label (wrong labels file?)")
        rows.append((labels[key].get("strategy", "all"), record["answer"], labels[key]["label"]))
    grouped = pope_scores_by_group(rows)
    scores: Dict[str, object] = dict(grouped.pop("all", {}))
    if len(grouped) > 1:
        scores["by_strategy"] = grouped
    return scores
