"""Image transforms that move boxes with the image (grounding, pretraining augmentation).

Every function takes an RGB ``PIL.Image`` and ``boxes`` (N, 4) float ``(x0, y0, x1, y1)``
pixels (may be None or empty) and returns the new image and the boxes in its pixels.

* :func:`square_resize`: RefCOCO's resize to exactly P x P (returns the per-axis ratios).
* :func:`random_resize`: shorter side to a random size, each side capped (not aspect-preserving).
* :func:`center_crop`, :func:`object_center_crop`: P x P crops (zero-padded where the window
  leaves the image), boxes shifted and clipped.
* :func:`horizontal_flip`.
* :func:`random_augment`: OFA's RandomAugment (N ops of magnitude M, each applied with
  probability 0.5); geometric ops map the box corners and take their enclosing box.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageOps

FILL = (128, 128, 128)
AUGMENT_OPS = (
    "Identity",
    "AutoContrast",
    "Equalize",
    "Brightness",
    "Sharpness",
    "ShearX",
    "ShearY",
    "TranslateX",
    "TranslateY",
    "Rotate",
)
MAX_LEVEL = 10.0


def parse_augment_ops(text: str) -> Tuple[str, ...]:
    """``"Identity,Rotate"`` -> ("Identity", "Rotate"); ``"none"`` or "" -> () (no
    RandomAugment). Unknown names raise ValueError listing the known ones."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if names in ((), ("none",)):
        return ()
    unknown = [n for n in names if n not in AUGMENT_OPS]
    if unknown:
        raise ValueError(
            f"--augment-ops: unknown op(s) {', '.join(unknown)} "
            f"(known: {', '.join(AUGMENT_OPS)}, or none)"
        )
    return names


def _boxes(boxes) -> torch.Tensor:
    if boxes is None:
        return torch.zeros(0, 4)
    tensor = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    return tensor.clone()


def clip_boxes(boxes: torch.Tensor, width: float, height: float) -> torch.Tensor:
    """Clamp x to [0, width] and y to [0, height]."""
    out = boxes.clone()
    out[:, 0::2] = out[:, 0::2].clamp(0, width)
    out[:, 1::2] = out[:, 1::2].clamp(0, height)
    return out


def resize(img: Image.Image, boxes, width: int, height: int) -> Tuple[Image.Image, torch.Tensor]:
    """Bicubic resize to ``width`` x ``height``; boxes scaled by (width/w, height/h)."""
    b = _boxes(boxes)
    w, h = img.size
    out = img.resize((width, height), Image.Resampling.BICUBIC)
    b[:, 0::2] *= width / w
    b[:, 1::2] *= height / h
    return out, b


def square_resize(img: Image.Image, boxes, size: int):
    """-> (image size x size, boxes, w_ratio = size / w, h_ratio = size / h) (RefCOCO)."""
    w, h = img.size
    out, b = resize(img, boxes, size, size)
    return out, b, size / w, size / h


def shorter_side_size(
    width: int, height: int, size: int, max_size: Optional[int] = None
) -> Tuple[int, int]:
    """(new width, new height): the shorter side becomes ``size`` (aspect kept, int-truncated),
    then each side is capped at ``max_size`` independently."""
    if width <= height:
        new_w, new_h = size, int(size * height / width)
    else:
        new_w, new_h = int(size * width / height), size
    if (width <= height and width == size) or (height <= width and height == size):
        new_w, new_h = width, height
    if max_size is not None:
        new_w, new_h = min(new_w, max_size), min(new_h, max_size)
    return new_w, new_h


def random_resize(
    img: Image.Image, boxes, sizes: Sequence[int], max_size: Optional[int], rng: np.random.Generator
):
    """Shorter side to a size drawn uniformly from ``sizes``, sides capped at ``max_size``."""
    size = int(sizes[int(rng.integers(len(sizes)))])
    new_w, new_h = shorter_side_size(*img.size, size, max_size)
    return resize(img, boxes, new_w, new_h)


def crop(img: Image.Image, boxes, left: int, top: int, width: int, height: int):
    """The window [left, left+width) x [top, top+height); outside the image is zero; boxes
    are shifted by (-left, -top) and clipped to the window."""
    b = _boxes(boxes)
    out = img.crop((left, top, left + width, top + height))
    b[:, 0::2] -= left
    b[:, 1::2] -= top
    return out, clip_boxes(b, width, height)


def center_crop(img: Image.Image, boxes, size: int):
    """The central ``size`` x ``size`` window (torchvision's rounding of the offsets)."""
    w, h = img.size
    left = int(round((w - size) / 2.0))
    top = int(round((h - size) / 2.0))
    return crop(img, boxes, left, top, size, size)


def object_center_crop(img: Image.Image, boxes, size: int):
    """A ``size`` x ``size`` window centred on the first box, shifted to stay inside the image
    (zero padding right/bottom when the image is smaller than the window)."""
    b = _boxes(boxes)
    if b.size(0) == 0:
        raise ValueError("object_center_crop needs a box")
    w, h = img.size
    cx = float(b[0, 0] + b[0, 2]) / 2
    cy = float(b[0, 1] + b[0, 3]) / 2
    left = min(max(int(round(cx - size / 2)), 0), max(w - size, 0))
    top = min(max(int(round(cy - size / 2)), 0), max(h - size, 0))
    return crop(img, b, left, top, size, size)


def horizontal_flip(img: Image.Image, boxes):
    """Mirror left-right: x -> width - x (x0 and x1 swap roles)."""
    b = _boxes(boxes)
    w = img.size[0]
    flipped = b.clone()
    flipped[:, 0] = w - b[:, 2]
    flipped[:, 2] = w - b[:, 0]
    return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT), flipped


# --------------------------------------------------------------------------- RandomAugment
def _affine(img: Image.Image, boxes: torch.Tensor, matrix: np.ndarray):
    """Apply the forward 2x3 affine ``matrix`` (output = M @ [x, y, 1]) to image and boxes."""
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    inverse = np.linalg.inv(full)[:2].reshape(-1)
    out = img.transform(
        img.size,
        Image.Transform.AFFINE,
        data=tuple(inverse.tolist()),
        resample=Image.Resampling.NEAREST,
        fillcolor=FILL,
    )
    if boxes.size(0) == 0:
        return out, boxes
    corners = torch.stack(
        [boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [0, 3]], boxes[:, [2, 3]]], dim=1
    )
    m = torch.as_tensor(matrix, dtype=torch.float32)
    moved = corners @ m[:, :2].T + m[:, 2]
    new = torch.cat([moved.min(dim=1).values, moved.max(dim=1).values], dim=1)
    return out, clip_boxes(new, *img.size)


def _rotation_matrix(degrees: float, width: int, height: int) -> np.ndarray:
    """Counter-clockwise (as displayed) rotation about the image centre."""
    theta = math.radians(degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    cx, cy = width / 2.0, height / 2.0
    # image y points down: a displayed counter-clockwise turn is x' = c x + s y, y' = -s x + c y
    rot = np.array([[cos, sin], [-sin, cos]])
    shift = np.array([cx, cy]) - rot @ np.array([cx, cy])
    return np.hstack([rot, shift[:, None]])


def apply_augment_op(img: Image.Image, boxes, name: str, magnitude: float, sign: float = 1.0):
    """One RandomAugment op at ``magnitude`` (0..10); ``sign`` (+-1) for the signed ops."""
    b = _boxes(boxes)
    level = magnitude / MAX_LEVEL
    w, h = img.size
    if name == "Identity":
        return img, b
    if name == "AutoContrast":
        return ImageOps.autocontrast(img), b
    if name == "Equalize":
        return ImageOps.equalize(img), b
    if name == "Brightness":
        return ImageEnhance.Brightness(img).enhance(level * 1.8 + 0.1), b
    if name == "Sharpness":
        return ImageEnhance.Sharpness(img).enhance(level * 1.8 + 0.1), b
    if name == "ShearX":
        return _affine(img, b, np.array([[1.0, sign * level * 0.3, 0.0], [0.0, 1.0, 0.0]]))
    if name == "ShearY":
        return _affine(img, b, np.array([[1.0, 0.0, 0.0], [sign * level * 0.3, 1.0, 0.0]]))
    if name == "TranslateX":
        return _affine(img, b, np.array([[1.0, 0.0, sign * level * 10.0], [0.0, 1.0, 0.0]]))
    if name == "TranslateY":
        return _affine(img, b, np.array([[1.0, 0.0, 0.0], [0.0, 1.0, sign * level * 10.0]]))
    if name == "Rotate":
        return _affine(img, b, _rotation_matrix(sign * level * 30.0, w, h))
    raise ValueError(f"unknown augmentation op {name!r} (one of {AUGMENT_OPS})")


def random_augment(
    img: Image.Image,
    boxes,
    rng: np.random.Generator,
    num_ops: int = 2,
    magnitude: float = 7.0,
    ops: Sequence[str] = AUGMENT_OPS,
    prob: float = 0.5,
):
    """``num_ops`` ops drawn with replacement, each applied with probability ``prob`` and a
    random sign (the pretraining recipe: N = 2, M = 7, fill (128, 128, 128))."""
    b = _boxes(boxes)
    for index in rng.integers(len(ops), size=num_ops):
        apply_it = rng.random() < prob
        sign = -1.0 if rng.random() < 0.5 else 1.0
        if apply_it:
            img, b = apply_augment_op(img, b, ops[int(index)], magnitude, sign)
    return img, b
