"""Toy-world visual entailment (the ``snli_ve`` layout): three hypotheses per
scene, one per label, so the labels are exactly balanced.

* entailment: a true statement read off the ground truth: "there is a red circle",
  "the red circle is left of the blue square", "there are two shapes";
* contradiction: a false statement of the same kinds: an absent colour+shape, the opposite
  relation of a neighbour pair, a wrong shape count;
* neutral: a statement about a depicted object's property that pixels cannot show
  (material, weight, temperature, age): "the red circle is made of wood". The image neither
  supports nor refutes it, as SNLI's neutral hypotheses add information the premise lacks;
  the object always exists, so the statement is not false by presupposition.

The premise (the TSV's caption column) is one of the scene's captions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from unival.toy_world.captions import (
    NUMBER_WORDS,
    OPPOSITE_RELATION,
    phrase,
    relation,
    unique_forms,
)
from unival.toy_world.questions import OBJECT_ANSWERS
from unival.toy_world.scene import Scene, ToyObject

LABELS = ("entailment", "contradiction", "neutral")
NEUTRAL_PROPERTIES = (
    "made of wood",
    "made of metal",
    "made of glass",
    "heavy",
    "warm",
    "cold",
    "old",
    "new",
    "expensive",
    "fragile",
)
COUNT_WORDS = ("two", "three", "four")  # scenes hold 2 or 3 shapes


@dataclass(frozen=True)
class Hypothesis:
    label: str
    text: str
    kind: str  # "exists", "relation", "count" or "property"


def _named(obj: ToyObject, scene: Scene) -> str:
    return phrase(obj, unique_forms(obj, scene)[0])


def _neighbour_pair(scene: Scene, rng: random.Random) -> tuple[ToyObject, ToyObject]:
    i = rng.randrange(len(scene.objects) - 1)
    pair = [scene.objects[i], scene.objects[i + 1]]
    rng.shuffle(pair)
    return pair[0], pair[1]


def _entailment(scene: Scene, rng: random.Random) -> Hypothesis:
    kind = rng.choice(("exists", "relation", "count"))
    if kind == "exists":
        obj = rng.choice(scene.objects)
        return Hypothesis("entailment", f"there is a {obj.color} {obj.shape}", kind)
    if kind == "relation":
        a, b = _neighbour_pair(scene, rng)
        return Hypothesis(
            "entailment", f"the {_named(a, scene)} is {relation(a, b)} the {_named(b, scene)}", kind
        )
    return Hypothesis("entailment", f"there are {NUMBER_WORDS[len(scene.objects)]} shapes", kind)


def _contradiction(scene: Scene, rng: random.Random) -> Hypothesis:
    kind = rng.choice(("exists", "relation", "count"))
    if kind == "exists":
        present = {f"{o.color} {o.shape}" for o in scene.objects}
        named = rng.choice([p for p in OBJECT_ANSWERS if p not in present])
        return Hypothesis("contradiction", f"there is a {named}", kind)
    if kind == "relation":
        a, b = _neighbour_pair(scene, rng)
        wrong = OPPOSITE_RELATION[relation(a, b)]
        return Hypothesis(
            "contradiction", f"the {_named(a, scene)} is {wrong} the {_named(b, scene)}", kind
        )
    wrong = rng.choice([w for w in COUNT_WORDS if w != NUMBER_WORDS[len(scene.objects)]])
    return Hypothesis("contradiction", f"there are {wrong} shapes", kind)


def _neutral(scene: Scene, rng: random.Random) -> Hypothesis:
    obj = rng.choice(scene.objects)
    return Hypothesis(
        "neutral", f"the {_named(obj, scene)} is {rng.choice(NEUTRAL_PROPERTIES)}", "property"
    )


def scene_hypotheses(scene: Scene, rng: random.Random) -> list[Hypothesis]:
    """One hypothesis per label, in :data:`LABELS` order."""
    return [_entailment(scene, rng), _contradiction(scene, rng), _neutral(scene, rng)]
