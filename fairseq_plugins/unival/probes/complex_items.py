"""Complex-instruction probe items of one toy scene (the failure modes UnIVAL's authors list).

Every item's ground truth is computed from the scene and is unambiguous by construction:
an item is produced only when exactly one object (or one answer) fits.

Grounding items (``kind="grounding"``, ``target`` = index into ``scene.objects``):

* ``similar_attribute``: "the big red circle" where another red circle differs only in size;
* ``similar_relation``: "the red circle left of the blue square" where another red circle
  is in a different clear relation to the anchor (the anchor named uniquely);
* ``nearest_object`` / ``farthest_object``: "the shape nearest to the blue square" /
  "the shape farthest from the blue square" (the runner-up at least ``MARGIN`` further/nearer);
* ``corner``: "the shape nearest to the top left corner" (or "... to the centre").

VQA items (``kind="vqa"``, ``answer``):

* ``count``: "how many shapes are there?", "how many circles are there?", "how many red
  shapes are there?" -> "0".."4" (present shapes/colours plus one absent shape);
* ``compare_count``: "are there more circles than squares?" -> "yes"/"no" (each pair of shapes
  with one present, in one direction, alternating with the scene id);
* ``similar_relation``: "what size is the red circle left of the blue square?" -> "big"/"small";
* ``nearest_object`` / ``farthest_object`` / ``corner``: "what colour is the shape nearest to
  the blue square?" -> colour.

Distances are between box centres, in pixels; ``MARGIN`` is a fraction of the image side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from unival.toy_world.captions import clear_relation, phrase, unique_forms
from unival.toy_world.probe_language import landmarks, probe_answers, template_texts  # noqa: F401
from unival.toy_world.scene import COLORS, SHAPES, Scene, ToyObject

MARGIN = 0.1
GROUNDING_CATEGORIES = (
    "similar_attribute",
    "similar_relation",
    "nearest_object",
    "farthest_object",
    "corner",
)
VQA_CATEGORIES = (
    "count",
    "compare_count",
    "similar_relation",
    "nearest_object",
    "farthest_object",
    "corner",
)


@dataclass(frozen=True)
class ProbeItem:
    kind: str  # "grounding" or "vqa"
    category: str
    text: str
    target: Optional[int] = None  # grounding
    answer: Optional[str] = None  # vqa


def _distance(a: Tuple[float, float], b: Tuple[float, float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def twins(scene: Scene, index: int) -> List[int]:
    """Other objects with the same colour and shape as ``scene.objects[index]``."""
    t = scene.objects[index]
    return [
        i
        for i, o in enumerate(scene.objects)
        if i != index and (o.color, o.shape) == (t.color, t.shape)
    ]


def extreme(
    scene: Scene, point: Tuple[float, float], candidates: Sequence[int], nearest: bool
) -> Optional[int]:
    """The candidate nearest to (farthest from) ``point`` when it wins by ``MARGIN``, else None."""
    if len(candidates) < 2:
        return None
    ranked = sorted(
        candidates, key=lambda i: _distance(scene.objects[i].center, point), reverse=not nearest
    )
    first, second = (_distance(scene.objects[i].center, point) for i in ranked[:2])
    return ranked[0] if abs(second - first) >= MARGIN * scene.image_size else None


def _named(scene: Scene, index: int) -> Optional[str]:
    forms = unique_forms(scene.objects[index], scene)
    return f"the {phrase(scene.objects[index], forms[0])}" if forms else None


def similar_attribute(scene: Scene) -> List[ProbeItem]:
    items = []
    for i, t in enumerate(scene.objects):
        others = twins(scene, i)
        if others and all(scene.objects[j].size != t.size for j in others):
            items.append(
                ProbeItem(
                    "grounding", "similar_attribute", f"the {t.size} {t.color} {t.shape}", target=i
                )
            )
    return items


def similar_relations(scene: Scene) -> List[Tuple[int, str, str]]:
    """``(target, relation, anchor phrase)``: the target's twins all lie in another clear
    relation to the anchor (which is not a twin and is named uniquely)."""
    found = []
    for i, t in enumerate(scene.objects):
        others = twins(scene, i)
        if not others:
            continue
        for a, anchor in enumerate(scene.objects):
            if a == i or a in others or (anchor.color, anchor.shape) == (t.color, t.shape):
                continue
            name = _named(scene, a)
            rel = clear_relation(t, anchor, scene.image_size)
            if name is None or rel is None:
                continue
            rels = [clear_relation(scene.objects[j], anchor, scene.image_size) for j in others]
            if all(r is not None and r != rel for r in rels):
                found.append((i, rel, name))
    return found


def relative_to_objects(scene: Scene) -> List[Tuple[str, int, str]]:
    """``(category, target, reference phrase)`` for nearest/farthest to a named object."""
    found = []
    for r in range(len(scene.objects)):
        name = _named(scene, r)
        if name is None:
            continue
        others = [i for i in range(len(scene.objects)) if i != r]
        for category, nearest in (("nearest_object", True), ("farthest_object", False)):
            target = extreme(scene, scene.objects[r].center, others, nearest)
            if target is not None:
                found.append((category, target, name))
    return found


def corners(scene: Scene) -> List[Tuple[int, str]]:
    """``(target, landmark phrase)`` for the shape nearest to each corner / the centre."""
    found = []
    for name, point in landmarks(scene.image_size):
        target = extreme(scene, point, list(range(len(scene.objects))), nearest=True)
        if target is not None:
            found.append((target, name))
    return found


def grounding_items(scene: Scene) -> List[ProbeItem]:
    items = similar_attribute(scene)
    items += [
        ProbeItem(
            "grounding",
            "similar_relation",
            f"the {scene.objects[i].color} {scene.objects[i].shape} {rel} {name}",
            target=i,
        )
        for i, rel, name in similar_relations(scene)
    ]
    for category, target, name in relative_to_objects(scene):
        word = "nearest to" if category == "nearest_object" else "farthest from"
        items.append(ProbeItem("grounding", category, f"the shape {word} {name}", target=target))
    items += [
        ProbeItem("grounding", "corner", f"the shape nearest to {name}", target=t)
        for t, name in corners(scene)
    ]
    return items


def _count(objects: Sequence[ToyObject], **attributes: str) -> int:
    return sum(all(getattr(o, k) == v for k, v in attributes.items()) for o in objects)


def count_items(scene: Scene) -> List[ProbeItem]:
    objs = scene.objects
    items = [ProbeItem("vqa", "count", "how many shapes are there?", answer=str(len(objs)))]
    present = [s for s in SHAPES if _count(objs, shape=s)]
    absent = [s for s in SHAPES if s not in present][:1]
    items += [
        ProbeItem("vqa", "count", f"how many {s}s are there?", answer=str(_count(objs, shape=s)))
        for s in present + absent
    ]
    items += [
        ProbeItem(
            "vqa", "count", f"how many {c} shapes are there?", answer=str(_count(objs, color=c))
        )
        for c in COLORS
        if _count(objs, color=c)
    ]
    for p, (a, b) in enumerate((a, b) for i, a in enumerate(SHAPES) for b in SHAPES[i + 1 :]):
        if (scene.scene_id + p) % 2:  # one direction per pair, alternating
            a, b = b, a
        na, nb = _count(objs, shape=a), _count(objs, shape=b)
        if na or nb:
            items.append(
                ProbeItem(
                    "vqa",
                    "compare_count",
                    f"are there more {a}s than {b}s?",
                    answer="yes" if na > nb else "no",
                )
            )
    return items


def vqa_items(scene: Scene) -> List[ProbeItem]:
    items = count_items(scene)
    for i, rel, name in similar_relations(scene):
        t = scene.objects[i]
        if any(scene.objects[j].size != t.size for j in twins(scene, i)):
            items.append(
                ProbeItem(
                    "vqa",
                    "similar_relation",
                    f"what size is the {t.color} {t.shape} {rel} {name}?",
                    answer=t.size,
                )
            )
    for category, target, name in relative_to_objects(scene):
        word = "nearest to" if category == "nearest_object" else "farthest from"
        items.append(
            ProbeItem(
                "vqa",
                category,
                f"what colour is the shape {word} {name}?",
                answer=scene.objects[target].color,
            )
        )
    items += [
        ProbeItem(
            "vqa",
            "corner",
            f"what colour is the shape nearest to {name}?",
            answer=scene.objects[t].color,
        )
        for t, name in corners(scene)
    ]
    return items
