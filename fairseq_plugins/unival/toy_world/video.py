"""Toy-world videos: one coloured shape moving (left/right/up/down, slow/fast), sometimes
beside a second shape standing still; captions and question/answer pairs from the ground
truth.

A :class:`VideoClip` is plain data; :func:`render_clip` draws its frames with the image
world's renderer, so colours, shapes and background match the still scenes.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageDraw

from unival.toy_world.render import draw_object
from unival.toy_world.scene import BACKGROUND, COLORS, MIN_GAP, SHAPES, ToyObject

DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
SPEEDS = {"slow": 1.0, "fast": 2.5}  # pixels per frame at a 64-pixel frame
ADVERBS = {"slow": "slowly", "fast": "quickly"}
DIRECTION_PHRASES = {
    "left": "to the left",
    "right": "to the right",
    "up": "upwards",
    "down": "downwards",
}
MOVER_SIDE = (
    0.3  # fraction of the frame side (0.3 of a 32 px frame: 10 px, shapes still tell apart)
)
STILL_SIDE = 0.2
_MAX_TRIES = 200


@dataclass
class VideoClip:
    """Ground truth of a clip. Boxes are (x0, y0, x1, y1) pixels, end-exclusive.

    ``start_box`` is the mover's box in frame 0; frame ``t`` shifts it by
    ``round(t * step)`` pixels along ``direction``; ``still`` is the resting shape or None.
    """

    clip_id: int
    size: int
    num_frames: int
    shape: str
    color: str
    direction: str
    speed: str
    start_box: tuple[int, int, int, int]
    still: ToyObject | None = None

    @property
    def step(self) -> float:
        """Pixels per frame."""
        return SPEEDS[self.speed] * self.size / 64.0

    @property
    def label(self) -> str:
        """``"red circle"``."""
        return f"{self.color} {self.shape}"

    def box_at(self, t: int) -> tuple[int, int, int, int]:
        dx, dy = DIRECTIONS[self.direction]
        shift = int(round(t * self.step))
        x0, y0, x1, y1 = self.start_box
        return (x0 + dx * shift, y0 + dy * shift, x1 + dx * shift, y1 + dy * shift)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "VideoClip":
        still = data.get("still")
        still = (
            ToyObject(still["shape"], still["color"], still["size"], tuple(still["box"]))
            if still
            else None
        )
        fields = {
            k: data[k]
            for k in ("clip_id", "size", "num_frames", "shape", "color", "direction", "speed")
        }
        return cls(**fields, start_box=tuple(data["start_box"]), still=still)


def _swept_box(clip: VideoClip) -> tuple[int, int, int, int]:
    first, last = clip.box_at(0), clip.box_at(clip.num_frames - 1)
    return (
        min(first[0], last[0]),
        min(first[1], last[1]),
        max(first[2], last[2]),
        max(first[3], last[3]),
    )


def _clear(a: tuple, b: tuple) -> bool:
    return (
        a[2] + MIN_GAP <= b[0]
        or b[2] + MIN_GAP <= a[0]
        or a[3] + MIN_GAP <= b[1]
        or b[3] + MIN_GAP <= a[1]
    )


def _start_box(rng: random.Random, size: int, side: int, travel: int, direction: str):
    """A start box whose whole path stays inside the frame (1-pixel margin)."""
    dx, dy = DIRECTIONS[direction]
    low_x = 1 + (travel if dx < 0 else 0)
    high_x = size - side - 1 - (travel if dx > 0 else 0)
    low_y = 1 + (travel if dy < 0 else 0)
    high_y = size - side - 1 - (travel if dy > 0 else 0)
    if high_x < low_x or high_y < low_y:
        raise ValueError(f"a {size}-pixel frame is too small for this motion")
    x0, y0 = rng.randint(low_x, high_x), rng.randint(low_y, high_y)
    return (x0, y0, x0 + side, y0 + side)


def sample_clip(
    rng: random.Random, clip_id: int, size: int = 64, num_frames: int = 16
) -> VideoClip:
    """Draw a mover (shape, colour, direction, speed) and, half the time, a still shape of
    another colour and shape kept clear of the mover's whole path."""
    if size < 32:
        raise ValueError(f"video size {size} is too small for the toy world (>= 32)")
    colors = list(COLORS)
    for _ in range(_MAX_TRIES):
        shape, color = rng.choice(SHAPES), rng.choice(colors)
        direction, speed = rng.choice(list(DIRECTIONS)), rng.choice(list(SPEEDS))
        side = max(3, round(MOVER_SIDE * size))
        travel = int(round((num_frames - 1) * SPEEDS[speed] * size / 64.0))
        clip = VideoClip(
            clip_id,
            size,
            num_frames,
            shape,
            color,
            direction,
            speed,
            _start_box(rng, size, side, travel, direction),
        )
        if rng.random() < 0.5:
            return clip
        still_side = max(3, round(STILL_SIDE * size))
        swept = _swept_box(clip)
        still_shape = rng.choice([s for s in SHAPES if s != shape])
        still_color = rng.choice([c for c in colors if c != color])
        for _ in range(50):
            x0 = rng.randint(1, size - still_side - 1)
            y0 = rng.randint(1, size - still_side - 1)
            box = (x0, y0, x0 + still_side, y0 + still_side)
            if _clear(box, swept):
                clip.still = ToyObject(still_shape, still_color, "small", box)
                return clip
    raise RuntimeError(f"could not place a clip in {_MAX_TRIES} tries at size {size}")


def render_clip(clip: VideoClip) -> np.ndarray:
    """(num_frames, size, size, 3) uint8 RGB frames."""
    frames = np.empty((clip.num_frames, clip.size, clip.size, 3), dtype=np.uint8)
    for t in range(clip.num_frames):
        img = Image.new("RGB", (clip.size, clip.size), BACKGROUND)
        draw = ImageDraw.Draw(img)
        if clip.still is not None:
            draw_object(draw, clip.still)
        draw_object(draw, ToyObject(clip.shape, clip.color, "small", clip.box_at(t)))
        frames[t] = np.asarray(img)
    return frames


def clip_captions(clip: VideoClip) -> list[str]:
    """Three phrasings, e.g. "a red circle moving left quickly"."""
    adverb, where = ADVERBS[clip.speed], DIRECTION_PHRASES[clip.direction]
    captions = [
        f"a {clip.label} moving {clip.direction} {adverb}",
        f"a {clip.label} moves {adverb} {where}",
    ]
    if clip.still is not None:
        captions.append(
            f"a {clip.label} moving {clip.direction} {adverb} and a "
            f"{clip.still.color} {clip.still.shape} standing still"
        )
    else:
        captions.append(f"a {clip.speed} {clip.label} moving {clip.direction}")
    return captions


def clip_questions(clip: VideoClip) -> list[tuple[str, str]]:
    """(question, one-word answer) pairs about the clip."""
    pairs = [
        ("what color is the moving shape?", clip.color),
        ("what shape is moving?", clip.shape),
        (f"which direction does the {clip.label} move?", clip.direction),
        (f"is the {clip.label} moving fast or slow?", clip.speed),
        ("how many shapes are there?", "two" if clip.still is not None else "one"),
    ]
    if clip.still is not None:
        pairs.append(("what color is the shape that is not moving?", clip.still.color))
    return pairs


def video_vocabulary_texts() -> list[str]:
    """Texts holding every word a video caption, question or answer can use."""
    texts = [
        f"a {c} {s} moving {d} {a} and standing still"
        for c in COLORS
        for s in SHAPES
        for d in DIRECTIONS
        for a in ADVERBS.values()
    ]
    texts += [f"moves {p}" for p in DIRECTION_PHRASES.values()] + list(SPEEDS)
    texts += [
        "what color is the moving shape?",
        "what shape is moving?",
        "which direction does the move?",
        "is the moving fast or slow?",
        "how many shapes are there? one two",
        "what color is the shape that is not moving?",
    ]
    return texts
