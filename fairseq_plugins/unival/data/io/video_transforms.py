"""Video frame transforms with torch only (torchvision is unavailable here).

* eval (and train without augmentation): centre crop to ``size`` (zero-padding a smaller
  frame, as torchvision's ``CenterCrop``), /255, normalise (mean = std = 0.5);
* train with augmentation: a RandAugment-like policy (2 ops at magnitude 9 of 31, one draw
  shared by all frames), a random resized crop (scale 0.5-1, ratio 3/4-4/3, bicubic) and a
  horizontal flip (p = 0.5), all shared by the clip's frames, then /255 and normalise.

The augmentation stage works on float tensors holding whole numbers in [0, 255] (as the
uint8 pipeline it imitates); every function takes and returns (T, C, H, W).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from unival.data.io.transforms import normalize

RAND_AUGMENT_OPS = (
    "identity",
    "shear_x",
    "shear_y",
    "translate_x",
    "translate_y",
    "rotate",
    "brightness",
    "color",
    "contrast",
    "sharpness",
    "posterize",
    "solarize",
    "autocontrast",
    "equalize",
)
NUM_MAGNITUDE_BINS = 31
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)


# ---------------------------------------------------------------------------------------
# crops
# ---------------------------------------------------------------------------------------
def center_crop(frames: torch.Tensor, size: int) -> torch.Tensor:
    """(T, C, H, W) -> (T, C, size, size): zero-pad (centred, extra pixel right/bottom) where
    the frame is smaller, then cut the centre (offset ``round((H - size) / 2)``)."""
    height, width = frames.shape[-2:]
    pad_w, pad_h = max(0, size - width), max(0, size - height)
    if pad_w or pad_h:
        frames = F.pad(frames, (pad_w // 2, (pad_w + 1) // 2, pad_h // 2, (pad_h + 1) // 2))
        height, width = frames.shape[-2:]
    top = int(round((height - size) / 2.0))
    left = int(round((width - size) / 2.0))
    return frames[..., top : top + size, left : left + size]


def random_resized_crop_box(
    height: int, width: int, rng: np.random.Generator, scale=(0.5, 1.0), ratio=(3 / 4, 4 / 3)
) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a crop covering ``scale`` of the area with aspect in ``ratio``;
    after 10 failed draws, the largest centred crop whose aspect is within ``ratio``."""
    area = height * width
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_low, log_high))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    aspect = width / height
    if aspect < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif aspect > ratio[1]:
        h, w = height, int(round(height * ratio[1]))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


def resize_bicubic(frames: torch.Tensor, size: int) -> torch.Tensor:
    """(T, C, h, w) float -> (T, C, size, size), bicubic with antialiasing, clamped to
    [0, 255]."""
    out = F.interpolate(
        frames, size=(size, size), mode="bicubic", align_corners=False, antialias=True
    )
    return out.clamp_(0.0, 255.0)


# ---------------------------------------------------------------------------------------
# RandAugment-like ops on (T, C, H, W) float in [0, 255]
# ---------------------------------------------------------------------------------------
def _warp(frames: torch.Tensor, source_of) -> torch.Tensor:
    """Sample ``frames`` at ``source_of(x, y)`` (pixel coordinates of the output grid ->
    input coordinates); nearest neighbour, zeros outside."""
    t, _, height, width = frames.shape
    y, x = torch.meshgrid(
        torch.arange(height, dtype=torch.float32),
        torch.arange(width, dtype=torch.float32),
        indexing="ij",
    )
    src_x, src_y = source_of(x, y)
    grid = torch.stack([(2 * src_x + 1) / width - 1, (2 * src_y + 1) / height - 1], dim=-1)
    grid = grid.unsqueeze(0).expand(t, height, width, 2)
    return F.grid_sample(frames, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def _gray(frames: torch.Tensor) -> torch.Tensor:
    """(T, 3, H, W) -> (T, 1, H, W) luma."""
    weights = torch.tensor(GRAY_WEIGHTS, dtype=frames.dtype).view(1, 3, 1, 1)
    return (frames * weights).sum(dim=1, keepdim=True)


def _blend(frames: torch.Tensor, other: torch.Tensor, factor: float) -> torch.Tensor:
    return (factor * frames + (1.0 - factor) * other).clamp(0.0, 255.0).floor()


def _sharpen(frames: torch.Tensor, factor: float) -> torch.Tensor:
    kernel = torch.ones(3, 3, dtype=frames.dtype)
    kernel[1, 1] = 5.0
    kernel = (kernel / kernel.sum()).expand(frames.shape[1], 1, 3, 3)
    blurred = frames.clone()
    if min(frames.shape[-2:]) >= 3:  # borders keep their pixels
        blurred[..., 1:-1, 1:-1] = F.conv2d(frames, kernel, groups=frames.shape[1]).round()
    return _blend(frames, blurred, factor)


def _autocontrast(frames: torch.Tensor) -> torch.Tensor:
    low = frames.amin(dim=(-2, -1), keepdim=True)
    high = frames.amax(dim=(-2, -1), keepdim=True)
    span = high - low
    flat = span == 0
    scale = torch.where(flat, torch.ones_like(span), 255.0 / span.clamp(min=1e-6))
    low = torch.where(flat, torch.zeros_like(low), low)
    return ((frames - low) * scale).clamp(0.0, 255.0).floor()


def equalize_channel(channel: torch.Tensor) -> torch.Tensor:
    """Histogram equalisation of one (H, W) channel of whole numbers in [0, 255]: spread the
    cumulative histogram over 256 levels, ignoring the count of the top occupied level."""
    values = channel.long().clamp(0, 255)
    hist = torch.bincount(values.flatten(), minlength=256)
    occupied = hist[hist > 0]
    step = int(occupied[:-1].sum()) // 255
    if step == 0:
        return channel
    cumulative = torch.cumsum(hist, 0)
    lut = torch.cat([torch.zeros(1, dtype=torch.long), (cumulative[:-1] + step // 2) // step])
    return lut.clamp(0, 255)[values].to(channel.dtype)


def _equalize(frames: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(frames)
    for t in range(frames.shape[0]):
        for c in range(frames.shape[1]):
            out[t, c] = equalize_channel(frames[t, c])
    return out


def op_magnitude(name: str, magnitude: int, height: int, width: int) -> float:
    """torchvision RandAugment's strength of ``name`` at ``magnitude`` (of 31 bins)."""
    fraction = magnitude / (NUM_MAGNITUDE_BINS - 1)
    if name in ("shear_x", "shear_y"):
        return 0.3 * fraction
    if name == "translate_x":
        return 150.0 / 331.0 * width * fraction
    if name == "translate_y":
        return 150.0 / 331.0 * height * fraction
    if name == "rotate":
        return 30.0 * fraction
    if name in ("brightness", "color", "contrast", "sharpness"):
        return 0.9 * fraction
    if name == "posterize":
        return float(8 - int(round(magnitude / ((NUM_MAGNITUDE_BINS - 1) / 4))))
    if name == "solarize":
        return 255.0 * (1.0 - fraction)
    return 0.0


def apply_op(frames: torch.Tensor, name: str, value: float) -> torch.Tensor:
    """One RandAugment op with strength ``value`` (already signed) on (T, C, H, W)."""
    height, width = frames.shape[-2:]
    if name == "identity":
        return frames
    if name == "shear_x":
        return _warp(frames, lambda x, y: (x + value * y, y))
    if name == "shear_y":
        return _warp(frames, lambda x, y: (x, y + value * x))
    if name == "translate_x":
        return _warp(frames, lambda x, y: (x - value, y))
    if name == "translate_y":
        return _warp(frames, lambda x, y: (x, y - value))
    if name == "rotate":
        cos, sin = math.cos(math.radians(value)), math.sin(math.radians(value))
        cx, cy = (width - 1) / 2, (height - 1) / 2
        return _warp(
            frames,
            lambda x, y: (
                cos * (x - cx) - sin * (y - cy) + cx,
                sin * (x - cx) + cos * (y - cy) + cy,
            ),
        )
    if name == "brightness":
        return _blend(frames, torch.zeros_like(frames), 1.0 + value)
    if name == "color":
        return _blend(frames, _gray(frames), 1.0 + value)
    if name == "contrast":
        return _blend(frames, _gray(frames).mean(dim=(-3, -2, -1), keepdim=True), 1.0 + value)
    if name == "sharpness":
        return _sharpen(frames, 1.0 + value)
    if name == "posterize":
        step = 2.0 ** (8 - int(value))
        return torch.floor(frames / step) * step
    if name == "solarize":
        return torch.where(frames >= value, 255.0 - frames, frames)
    if name == "autocontrast":
        return _autocontrast(frames)
    if name == "equalize":
        return _equalize(frames)
    raise ValueError(f"unknown RandAugment op {name!r}")


SIGNED_OPS = {
    "shear_x",
    "shear_y",
    "translate_x",
    "translate_y",
    "rotate",
    "brightness",
    "color",
    "contrast",
    "sharpness",
}


def rand_augment(
    frames: torch.Tensor, rng: np.random.Generator, num_ops: int = 2, magnitude: int = 9
) -> torch.Tensor:
    """``num_ops`` ops drawn uniformly (with a random sign where it applies), each applied to
    every frame of (T, C, H, W) alike."""
    height, width = frames.shape[-2:]
    for _ in range(num_ops):
        name = RAND_AUGMENT_OPS[int(rng.integers(len(RAND_AUGMENT_OPS)))]
        value = op_magnitude(name, magnitude, height, width)
        if name in SIGNED_OPS and rng.integers(2):
            value = -value
        frames = apply_op(frames, name, value)
    return frames


# ---------------------------------------------------------------------------------------
# the dataset-facing transform
# ---------------------------------------------------------------------------------------
def video_to_tensor(
    frames: torch.Tensor,
    size: int,
    train: bool = False,
    augment: bool = False,
    rng: np.random.Generator | None = None,
) -> torch.Tensor:
    """uint8 (T, C, H, W) -> float (C, T, size, size) normalised to [-1, 1].

    Augmentation (RandAugment-like + random resized crop + flip) only when both ``train`` and
    ``augment``; otherwise a centre crop (no resize). ``rng`` draws the augmentation.
    """
    if frames.dim() != 4:
        raise ValueError(f"expected frames (T, C, H, W), got shape {tuple(frames.shape)}")
    clip = frames.float()
    if train and augment:
        rng = rng if rng is not None else np.random.default_rng()
        clip = rand_augment(clip, rng)
        top, left, h, w = random_resized_crop_box(clip.shape[-2], clip.shape[-1], rng)
        clip = resize_bicubic(clip[..., top : top + h, left : left + w], size)
        if rng.random() < 0.5:
            clip = clip.flip(-1)
    else:
        clip = center_crop(clip, size)
    clip = normalize(clip.div(255.0).permute(1, 0, 2, 3))
    return clip.contiguous()
