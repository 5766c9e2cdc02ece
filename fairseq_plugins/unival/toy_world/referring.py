"""Toy-world referring expressions (the ``refcoco`` layout), one per object.

Two forms, both unambiguous by construction (checked by :func:`resolve`):

* attributes: "the big red circle", "the square", "the red circle" (a uniquely naming
  subset of size/colour/shape, drawn at random among those that are unique);
* relation:   "the square left of the triangle" (the target's shape, a clear relation to a
  neighbour, the neighbour's shortest unique description); used for about half the objects
  whenever the target's shape alone, restricted to that relation, names only it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from unival.toy_world.captions import clear_relation, matches, phrase, relation, unique_forms
from unival.toy_world.scene import Scene, ToyObject


@dataclass(frozen=True)
class Expression:
    """``text`` names ``target`` (an index into ``scene.objects``); ``form``/``relation``/
    ``anchor_form``/``anchor`` are its structured meaning (for :func:`resolve`)."""

    text: str
    target: int
    form: tuple[str, ...]
    relation: str | None = None
    anchor: int | None = None
    anchor_form: tuple[str, ...] = ()


def resolve(expression: Expression, scene: Scene) -> list[int]:
    """Indices of every object of ``scene`` the expression's meaning fits.

    The anchor must itself be named uniquely; an object whose relation to the anchor is not
    clear counts as fitting (so an ambiguous expression never resolves to one object)."""
    target_ref = scene.objects[expression.target]
    candidates = [i for i, o in enumerate(scene.objects) if matches(o, expression.form, target_ref)]
    if expression.relation is None:
        return candidates
    anchor_ref = scene.objects[expression.anchor]
    anchors = [o for o in scene.objects if matches(o, expression.anchor_form, anchor_ref)]
    if len(anchors) != 1:
        return list(range(len(scene.objects)))  # anchor ambiguous: the expression is too
    anchor = anchors[0]
    fitting = []
    for i in candidates:
        obj = scene.objects[i]
        if obj is anchor:
            continue
        rel = clear_relation(obj, anchor, scene.image_size)
        if rel is None or rel == expression.relation:
            fitting.append(i)
    return fitting


def _relational(scene: Scene, index: int) -> list[Expression]:
    target = scene.objects[index]
    options = []
    for j in (index - 1, index + 1):  # neighbours: their relation is always clear
        if not 0 <= j < len(scene.objects):
            continue
        anchor = scene.objects[j]
        anchor_forms = unique_forms(anchor, scene)
        if not anchor_forms:
            continue
        rel = relation(target, anchor)
        expression = Expression(
            f"the {target.shape} {rel} the {phrase(anchor, anchor_forms[0])}",
            index,
            ("shape",),
            rel,
            j,
            anchor_forms[0],
        )
        if resolve(expression, scene) == [index]:
            options.append(expression)
    return options


def describe_object(scene: Scene, index: int, rng: random.Random) -> Expression:
    """One unambiguous expression for ``scene.objects[index]``."""
    relational = _relational(scene, index)
    if relational and rng.random() < 0.5:
        return rng.choice(relational)
    form = rng.choice(unique_forms(scene.objects[index], scene))  # the full triple always is
    return Expression(f"the {phrase(scene.objects[index], form)}", index, form)


def scene_expressions(scene: Scene, rng: random.Random) -> list[Expression]:
    """One expression per object, left to right."""
    return [describe_object(scene, i, rng) for i in range(len(scene.objects))]


def box_field(obj: ToyObject) -> str:
    """``"x0,y0,x1,y1"`` pixels (the TSV region column)."""
    return ",".join(str(int(v)) for v in obj.box)
