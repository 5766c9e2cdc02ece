"""Compositional captions of a scene: three phrasings built from its left-to-right objects.

* chain:    "a big red circle left of a small blue square above a big green triangle"
* reversed: "a big green triangle below a small blue square right of a big red circle"
* listing:  "there are three shapes a big red circle a small blue square and a big green
  triangle"

Relations compare neighbouring objects along the dominant axis (the scene sampler keeps
it unambiguous). Captions are lowercase words without punctuation.
"""

from __future__ import annotations

from unival.toy_world.scene import COLORS, MIN_AXIS_MARGIN, SHAPES, SIZES, Scene, ToyObject

NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}


def describe(obj: ToyObject) -> str:
    """``"a big red circle"``."""
    return f"a {obj.size} {obj.color} {obj.shape}"


def relation(a: ToyObject, b: ToyObject) -> str:
    """Where ``a`` is relative to ``b``: "left of", "right of", "above" or "below"."""
    dx = b.center[0] - a.center[0]
    dy = b.center[1] - a.center[1]
    if abs(dx) >= abs(dy):
        return "left of" if dx > 0 else "right of"
    return "above" if dy > 0 else "below"  # image y grows downwards


def chain_caption(objects: list[ToyObject]) -> str:
    parts = [describe(objects[0])]
    for a, b in zip(objects, objects[1:]):
        parts += [relation(a, b), describe(b)]
    return " ".join(parts)


def listing_caption(objects: list[ToyObject]) -> str:
    described = [describe(o) for o in objects]
    body = " ".join(described[:-1]) + " and " + described[-1]
    return f"there are {NUMBER_WORDS[len(objects)]} shapes {body}"


def scene_captions(scene: Scene) -> list[str]:
    """The three distinct phrasings of ``scene`` (chain, reversed chain, listing)."""
    ordered = sorted(scene.objects, key=lambda o: o.center[0])
    return [chain_caption(ordered), chain_caption(ordered[::-1]), listing_caption(ordered)]


def object_labels(scene: Scene) -> list[str]:
    """``["big red circle", ...]`` left to right (the TSV's object-label column)."""
    return [o.label for o in sorted(scene.objects, key=lambda o: o.center[0])]


RELATIONS = ("left of", "right of", "above", "below")
OPPOSITE_RELATION = {
    "left of": "right of",
    "right of": "left of",
    "above": "below",
    "below": "above",
}
# attribute subsets that can name an object, shortest first
DESCRIPTION_FORMS = (("shape",), ("color", "shape"), ("size", "shape"), ("size", "color", "shape"))


def clear_relation(
    a: ToyObject, b: ToyObject, image_size: int, margin: float = MIN_AXIS_MARGIN
) -> str | None:
    """:func:`relation` of ``a`` to ``b`` when the dominant axis wins by ``margin`` of the
    image side (neighbours always do, by the scene rules); ``None`` when it is ambiguous."""
    dx = abs(b.center[0] - a.center[0])
    dy = abs(b.center[1] - a.center[1])
    if abs(dx - dy) < margin * image_size:
        return None
    return relation(a, b)


def phrase(obj: ToyObject, form: tuple[str, ...]) -> str:
    """The object's attributes of ``form`` in "size color shape" order: ``"big circle"``."""
    return " ".join(getattr(obj, attribute) for attribute in form)


def matches(obj: ToyObject, form: tuple[str, ...], reference: ToyObject) -> bool:
    """Whether ``obj`` has the same attributes of ``form`` as ``reference``."""
    return all(getattr(obj, a) == getattr(reference, a) for a in form)


def unique_forms(
    obj: ToyObject, scene: Scene, exclude: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """The :data:`DESCRIPTION_FORMS` (without attributes in ``exclude``) naming only ``obj``
    in ``scene``, shortest first."""
    return [
        form
        for form in DESCRIPTION_FORMS
        if not set(form) & set(exclude)
        and [o for o in scene.objects if matches(o, form, obj)] == [obj]
    ]


def vocabulary_texts() -> list[str]:
    """Texts holding every word a caption can use (so a dictionary built from few scenes
    still covers every caption)."""
    objects = [
        f"a {size} {color} {shape}" for shape in SHAPES for color in COLORS for size in SIZES
    ]
    counts = [f"there are {word} shapes and" for word in NUMBER_WORDS.values()]
    return objects + list(RELATIONS) + counts
