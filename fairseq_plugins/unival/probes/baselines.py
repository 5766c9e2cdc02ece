"""Per-category chance levels of the complex-instruction probe, to read its scores against.

* :func:`constant_answer_baseline` (VQA): per category, the accuracy of always giving that
  category's most frequent probe answer. It is read off the probe items themselves, so it is
  the best any constant answer can do: a model below it answers worse than a blind guess.
* :func:`random_object_baseline` (grounding): per category, the expected Acc@0.5 of pointing
  at one of the scene's shapes uniformly at random (a model that finds shapes but does not
  follow the instruction).
* :func:`random_object_colour_baseline` (VQA colour questions): per category, the expected
  accuracy of naming the colour of a random shape of the scene (a model that sees the
  colours but does not follow "nearest to ..." / "farthest from ...").
* :func:`constant_box_baseline` (grounding): per category, the Acc@0.5 of always predicting
  one box (e.g. the toy world's mean training box, the refcoco blind baseline).

``categories`` is a builder side file (``probe_vqa.categories.json`` /
``probe_refcoco.categories.json``); every result is ``{category: {"accuracy" | "acc@0.5",
"n", ...}}`` with an ``"all"`` entry over every item (not for the colour baseline), like
:func:`unival.probes.scoring.score_probe`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Dict, List, Mapping, Sequence

from unival.metrics.grounding import grounding_hits
from unival.metrics.vqa import normalize_vqa_answer


def _by_category(categories: Mapping[str, Mapping]) -> Dict[str, List[str]]:
    groups: Dict[str, List[str]] = defaultdict(list)
    for key, item in categories.items():
        groups[item["category"]].append(key)
    return dict(sorted(groups.items()))


def _with_all(per_category: Dict[str, dict], name: str) -> Dict[str, dict]:
    """Add ``"all"``: the n-weighted mean of the categories' scores."""
    n = sum(v["n"] for v in per_category.values())
    total = sum(v[name] * v["n"] for v in per_category.values())
    return {"all": {name: total / n if n else 0.0, "n": n}, **per_category}


def constant_answer_baseline(categories: Mapping[str, Mapping]) -> Dict[str, dict]:
    """Per category: its most frequent answer (ties: alphabetical) and that answer's accuracy."""
    out = {}
    for category, keys in _by_category(categories).items():
        answers = Counter(normalize_vqa_answer(categories[k]["answer"]) for k in keys)
        answer, hits = min(answers.items(), key=lambda kv: (-kv[1], kv[0]))
        out[category] = {"accuracy": hits / len(keys), "n": len(keys), "answer": answer}
    return _with_all(out, "accuracy")


def random_object_baseline(
    categories: Mapping[str, Mapping], scene_boxes: Mapping[str, Sequence[Sequence[float]]]
) -> Dict[str, dict]:
    """Per category: mean over items of (scene boxes with IoU >= 0.5 to the target) / (scene boxes).

    ``scene_boxes``: image id (str) -> every object's box ``[x0, y0, x1, y1]``; an item's
    image id is its id // 100 (the builder's ``image_id * 100 + k`` ids)."""
    out = {}
    for category, keys in _by_category(categories).items():
        total = 0.0
        for key in keys:
            image_id = str(int(key) // 100)
            if image_id not in scene_boxes:
                raise ValueError(f"probe item {key}: image {image_id} is not in the scenes")
            boxes = scene_boxes[image_id]
            target = [categories[key]["box"]] * len(boxes)
            total += float(grounding_hits(boxes, target, 0.5).sum()) / len(boxes)
        out[category] = {"acc@0.5": total / len(keys), "n": len(keys)}
    return _with_all(out, "acc@0.5")


def random_object_colour_baseline(
    categories: Mapping[str, Mapping], scene_colours: Mapping[str, Sequence[str]]
) -> Dict[str, dict]:
    """Per category whose answers are all colours of their scenes' shapes: mean over items of
    (shapes of the answer's colour) / (shapes). ``scene_colours``: image id -> every object's
    colour. Other categories (counts, yes/no, sizes) are left out, and there is no ``"all"``."""
    out = {}
    for category, keys in _by_category(categories).items():
        fractions = []
        for key in keys:
            colours = scene_colours.get(str(int(key) // 100))
            if colours is None:
                raise ValueError(f"probe item {key}: image {int(key) // 100} is not in the scenes")
            answer = normalize_vqa_answer(categories[key]["answer"])
            if answer not in colours:
                break
            fractions.append(colours.count(answer) / len(colours))
        else:
            out[category] = {"accuracy": sum(fractions) / len(keys), "n": len(keys)}
    return out


def constant_box_baseline(
    categories: Mapping[str, Mapping], box: Sequence[float]
) -> Dict[str, dict]:
    """Per category: the Acc@0.5 of predicting ``box`` for every item."""
    out = {}
    for category, keys in _by_category(categories).items():
        hits = grounding_hits([list(box)] * len(keys), [categories[k]["box"] for k in keys], 0.5)
        out[category] = {"acc@0.5": float(hits.sum()) / len(keys), "n": len(keys)}
    return _with_all(out, "acc@0.5")


def scene_boxes_of(scenes_payload: Mapping) -> Dict[str, List[List[float]]]:
    """``probe_scenes.json`` (toy scenes layout) -> {image id: [object boxes]}."""
    return {
        str(s.get("image_id", s.get("scene_id"))): [list(o["box"]) for o in s["objects"]]
        for s in scenes_payload["scenes"]
    }


def scene_colours_of(scenes_payload: Mapping) -> Dict[str, List[str]]:
    """``probe_scenes.json`` (toy scenes layout) -> {image id: [object colours]}."""
    return {
        str(s.get("image_id", s.get("scene_id"))): [o["color"] for o in s["objects"]]
        for s in scenes_payload["scenes"]
    }
