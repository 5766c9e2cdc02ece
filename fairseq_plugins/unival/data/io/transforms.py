"""Image -> tensor transforms with torch and Pillow only (torchvision is unavailable)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB ``PIL.Image`` -> (3, H, W) float in [0, 1] (torchvision ``ToTensor``)."""
    array = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


def normalize(tensor: torch.Tensor, mean=MEAN, std=STD) -> torch.Tensor:
    """Per-channel ``(x - mean) / std`` over (3, ...)."""
    shape = (-1,) + (1,) * (tensor.dim() - 1)
    mean_t = torch.tensor(mean, dtype=tensor.dtype).view(shape)
    std_t = torch.tensor(std, dtype=tensor.dtype).view(shape)
    return (tensor - mean_t) / std_t


def image_to_tensor(img: Image.Image, size: int) -> torch.Tensor:
    """Bicubic resize to ``size`` x ``size``, ToTensor, normalise with mean = std = 0.5
    -> (3, size, size) float in [-1, 1]."""
    resized = img.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    return normalize(pil_to_tensor(resized))
