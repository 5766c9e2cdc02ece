"""Scene ground truth of the toy world: 2-3 distinct coloured shapes, non-overlapping.

A scene is plain data (JSON-able through :meth:`Scene.to_dict`); rendering, text and
writers work from it, so later tasks (questions, referring expressions, entailment, video,
audio) can be derived from the same scenes.

Placement rules keep every caption unambiguous (so it is learnable from pixels):
objects do not touch (gap >= ``MIN_GAP``), their centres differ horizontally by at least
``MIN_CENTER_DX`` of the image (so "left to right" order is well defined), and for each pair
of neighbours in that order the dominant axis (|dx| vs |dy|) wins by ``MIN_AXIS_MARGIN``
(so "left of" vs "above" is clear).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import asdict, dataclass, field

SHAPES = ("circle", "square", "triangle")
COLORS = {  # name -> RGB
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 200, 30),
}
SIZES = {
    "small": 0.28,
    "big": 0.45,
}  # side as a fraction of the image side (shapes must be legible at 64 px)
BACKGROUND = (235, 235, 235)
NUM_OBJECTS = (2, 3)

MIN_GAP = 2  # pixels between boxes
MIN_CENTER_DX = 0.08
MIN_AXIS_MARGIN = 0.12
_MAX_TRIES = 1000


@dataclass
class ToyObject:
    """One shape; ``box`` = (x0, y0, x1, y1) pixels, end-exclusive (width = x1 - x0)."""

    shape: str
    color: str
    size: str
    box: tuple[int, int, int, int]

    @property
    def center(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return ((x0 + x1) / 2, (y0 + y1) / 2)

    @property
    def label(self) -> str:
        """``"big red circle"``."""
        return f"{self.size} {self.color} {self.shape}"


@dataclass
class Scene:
    """An image's ground truth; ``objects`` are sorted left to right by centre x."""

    scene_id: int
    image_size: int
    objects: list[ToyObject] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Scene":
        objects = [
            ToyObject(o["shape"], o["color"], o["size"], tuple(o["box"])) for o in data["objects"]
        ]
        return cls(int(data["scene_id"]), int(data["image_size"]), objects)


def all_attribute_triples() -> list[tuple[str, str, str]]:
    """Every (shape, color, size) combination: 3 x 4 x 2 = 24."""
    return list(itertools.product(SHAPES, COLORS, SIZES))


def _boxes_clear(a: tuple, b: tuple) -> bool:
    return (
        a[2] + MIN_GAP <= b[0]
        or b[2] + MIN_GAP <= a[0]
        or a[3] + MIN_GAP <= b[1]
        or b[3] + MIN_GAP <= a[1]
    )


def layout_is_unambiguous(objects: list[ToyObject], image_size: int) -> bool:
    centers = [o.center for o in objects]
    xs = sorted(c[0] for c in centers)
    if any(b - a < MIN_CENTER_DX * image_size for a, b in zip(xs, xs[1:])):
        return False
    ordered = sorted(objects, key=lambda o: o.center[0])
    for a, b in zip(ordered, ordered[1:]):
        dx = abs(b.center[0] - a.center[0])
        dy = abs(b.center[1] - a.center[1])
        if abs(dx - dy) < MIN_AXIS_MARGIN * image_size:
            return False
    return True


def place_objects(
    rng: random.Random, attributes: list[tuple[str, str, str]], image_size: int
) -> list[ToyObject] | None:
    objects: list[ToyObject] = []
    for shape, color, size in attributes:
        side = max(3, round(SIZES[size] * image_size))
        for _ in range(50):
            x0 = rng.randint(1, image_size - side - 1)
            y0 = rng.randint(1, image_size - side - 1)
            box = (x0, y0, x0 + side, y0 + side)
            if all(_boxes_clear(box, o.box) for o in objects):
                objects.append(ToyObject(shape, color, size, box))
                break
        else:
            return None
    return objects


def sample_scene(rng: random.Random, scene_id: int, image_size: int = 64) -> Scene:
    """Draw 2-3 objects with distinct attribute triples and place them (rules above)."""
    if image_size < 32:
        raise ValueError(f"image_size {image_size} is too small for the toy world (>= 32)")
    triples = all_attribute_triples()
    for _ in range(_MAX_TRIES):
        count = rng.choice(NUM_OBJECTS)
        objects = place_objects(rng, rng.sample(triples, count), image_size)
        if objects is not None and layout_is_unambiguous(objects, image_size):
            objects.sort(key=lambda o: o.center[0])
            return Scene(scene_id, image_size, objects)
    raise RuntimeError(f"could not place a scene in {_MAX_TRIES} tries at size {image_size}")
