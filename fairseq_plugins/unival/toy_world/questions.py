"""Toy-world visual questions (the ``vqa_gen`` layout), one per kind and scene.

Kinds and their answers:

* ``colour``:   "what colour is the circle?" -> "red" (the object is named by its shortest
  unique colour-free description; objects with none are not asked about);
* ``count``:    "how many squares are there?" / "how many red shapes are there?" -> "0".."3";
  the answer is the value, among those the scene allows, asked least so far in the split
  (ties at random), then a question with it: "0".."2" come out balanced, "3" is asked
  whenever a scene allows it (three shapes of one kind or colour are rare);
* ``presence``: "is there a red triangle?" -> "yes"/"no" with probability 1/2 each (the "no"
  questions name a colour+shape absent from the scene);
* ``position``: "what is left of the blue square?" -> "red circle" (colour + shape of the
  only object in that clear relation to a neighbour; skipped when no such pair exists).

Every answer is in :data:`VQA_ANSWERS` (the candidate list); :data:`ANSWER_TYPES` groups them
for the pretraining negatives (``type2ans.json``).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from unival.toy_world.captions import RELATIONS, clear_relation, phrase, relation, unique_forms
from unival.toy_world.scene import COLORS, SHAPES, Scene, ToyObject

KINDS = ("colour", "count", "presence", "position")
COUNT_ANSWERS = ("0", "1", "2", "3")
OBJECT_ANSWERS = tuple(f"{color} {shape}" for color in COLORS for shape in SHAPES)
VQA_ANSWERS = tuple(COLORS) + COUNT_ANSWERS + ("yes", "no") + OBJECT_ANSWERS
# answer type -> answers (pretraining negatives; "how many" enables the +-1 rule, "other" = all)
ANSWER_TYPES = {
    "what colour": list(COLORS),
    "how many": list(COUNT_ANSWERS),
    "yes/no": ["yes", "no"],
    "what is": list(OBJECT_ANSWERS),
    "other": list(VQA_ANSWERS),
}


@dataclass(frozen=True)
class Question:
    """``question`` ends with "?"; ``objects`` are the colour+shape phrases it mentions."""

    kind: str
    question: str
    answer: str
    objects: tuple[str, ...] = ()


def _colour_question(scene: Scene, rng: random.Random) -> Question | None:
    askable = [
        (o, forms[0])
        for o in scene.objects
        if (forms := unique_forms(o, scene, exclude=("color",)))
    ]
    if not askable:
        return None
    obj, form = rng.choice(askable)
    return Question("colour", f"what colour is the {phrase(obj, form)}?", obj.color)


def _count_question(scene: Scene, rng: random.Random, asked: Counter) -> Question:
    by_answer: dict[str, list[str]] = {}
    for shape in SHAPES:
        count = sum(o.shape == shape for o in scene.objects)
        by_answer.setdefault(str(count), []).append(f"how many {shape}s are there?")
    for color in COLORS:
        count = sum(o.color == color for o in scene.objects)
        by_answer.setdefault(str(count), []).append(f"how many {color} shapes are there?")
    fewest = min(asked[a] for a in by_answer)
    answer = rng.choice(sorted(a for a in by_answer if asked[a] == fewest))
    asked[answer] += 1
    return Question("count", rng.choice(by_answer[answer]), answer)


def _presence_question(scene: Scene, rng: random.Random) -> Question:
    present = sorted({f"{o.color} {o.shape}" for o in scene.objects})
    if rng.random() < 0.5:
        named, answer = rng.choice(present), "yes"
    else:
        named, answer = rng.choice([p for p in OBJECT_ANSWERS if p not in present]), "no"
    return Question("presence", f"is there a {named}?", answer, (named,))


def position_pairs(scene: Scene) -> list[tuple[ToyObject, str, ToyObject]]:
    """``(answer, relation, anchor)`` for neighbours where ``answer`` is the only object in
    that clear relation to ``anchor`` (every other object clearly in another one)."""
    pairs = []
    ordered = scene.objects
    for a, b in [(x, y) for x, y in zip(ordered, ordered[1:])] + [
        (y, x) for x, y in zip(ordered, ordered[1:])
    ]:
        rel = relation(a, b)
        others = [o for o in scene.objects if o is not a and o is not b]
        others_rel = [clear_relation(o, b, scene.image_size) for o in others]
        if all(r is not None and r != rel for r in others_rel):
            pairs.append((a, rel, b))
    return pairs


def _position_question(scene: Scene, rng: random.Random) -> Question | None:
    askable = [
        (a, rel, b, forms[0])
        for a, rel, b in position_pairs(scene)
        if (forms := unique_forms(b, scene))
    ]
    if not askable:
        return None
    a, rel, b, form = rng.choice(askable)
    assert rel in RELATIONS
    return Question("position", f"what is {rel} the {phrase(b, form)}?", f"{a.color} {a.shape}")


def scene_questions(
    scene: Scene, rng: random.Random, count_answers: Counter | None = None
) -> list[Question]:
    """At most one question of each kind (in :data:`KINDS` order) about ``scene``.

    ``count_answers`` tallies the count answers asked so far (updated; pass the same
    Counter for every scene of a split to balance them)."""
    asked = Counter() if count_answers is None else count_answers
    questions = [
        _colour_question(scene, rng),
        _count_question(scene, rng, asked),
        _presence_question(scene, rng),
        _position_question(scene, rng),
    ]
    return [q for q in questions if q is not None]
