"""Media loaders: one TSV media field -> the sample's patch tensors, per modality.

A dataset holds one loader, chosen by its task; the loader is the only modality-specific
part of captioning and QA samples:

* :class:`ImageLoader`: base64 or a path -> ``patch_image`` (3, P, P), bicubic resize;
* :class:`VideoLoader`: a path under ``media_dir`` -> ``patch_video`` (3, T, P_f, P_f):
  T frames sampled with ``sample_type`` (``eval_sample_type`` for valid/test), then centre
  crop (or, when training with ``use_dataaug``, RandAugment + random resized crop + flip);
* :class:`AudioLoader`: a path under ``media_dir`` -> ``patch_audio`` (S,): mono at the
  file's rate (or resampled to ``sample_rate``), rounded through int16, randomly cropped or
  tiled and zero-padded to S = ``max_audio_len``.

``load(field, train, rng)`` returns the sample keys (``patch_*``, ``patch_mask``,
``patch_type``); a bad field raises ``ValueError`` (the dataset adds file/line/column).
Random draws come from ``rng`` (numpy ``Generator``), which the dataset seeds per
(seed, epoch, row) so that runs repeat.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from unival.data.io.audio import PAD_MODES, int16_round_trip, pad_or_crop, read_audio
from unival.data.io.image import decode_image
from unival.data.io.transforms import image_to_tensor
from unival.data.io.video import SAMPLINGS, read_video_frames
from unival.data.io.video_transforms import video_to_tensor
from unival.data.modality import Modality


def media_path(field: str, media_dir: str | os.PathLike | None) -> str:
    """The file named by a TSV field, relative to ``media_dir`` when given."""
    name = field.strip()
    if not name:
        raise ValueError("empty media path")
    return os.path.join(os.fspath(media_dir), name) if media_dir else name


@dataclass
class ImageLoader:
    """Images: ``patch_image`` (3, size, size) in [-1, 1]."""

    size: int = 480
    image_dir: Optional[str] = None
    read_from_path: bool = False
    modality = Modality.IMAGE

    def load(self, field: str, train: bool = False, rng: np.random.Generator | None = None) -> dict:
        img = decode_image(field, self.image_dir, read_from_path=self.read_from_path)
        return {
            "patch_image": image_to_tensor(img, self.size),
            "patch_mask": torch.tensor([True]),
            "patch_type": int(Modality.IMAGE),
        }


@dataclass
class VideoLoader:
    """Videos: ``patch_video`` (3, num_frames, size, size) in [-1, 1]."""

    num_frames: int = 4
    size: int = 224
    media_dir: Optional[str] = None
    sample_type: str = "rand"
    eval_sample_type: Optional[str] = None
    use_dataaug: bool = False
    modality = Modality.VIDEO

    def __post_init__(self):
        for name in (self.sample_type, self.eval_sample_type or self.sample_type):
            if name not in SAMPLINGS:
                raise ValueError(f"unknown frame sampling {name!r} (one of {SAMPLINGS})")

    def load(self, field: str, train: bool = False, rng: np.random.Generator | None = None) -> dict:
        sampling = self.sample_type if train else (self.eval_sample_type or self.sample_type)
        frames = read_video_frames(
            media_path(field, self.media_dir), self.num_frames, sampling, rng
        )
        clip = video_to_tensor(frames, self.size, train=train, augment=self.use_dataaug, rng=rng)
        return {
            "patch_video": clip,
            "patch_mask": torch.tensor([True]),
            "patch_type": int(Modality.VIDEO),
        }


@dataclass
class AudioLoader:
    """Audio: ``patch_audio`` (max_audio_len,) float32 waveform."""

    max_audio_len: int = 480000
    media_dir: Optional[str] = None
    sample_rate: Optional[int] = None  # None: the file's own rate (the reference default)
    pad_mode: str = "repeatpad"
    modality = Modality.AUDIO

    def __post_init__(self):
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"unknown pad mode {self.pad_mode!r} (one of {PAD_MODES})")
        if self.max_audio_len <= 0:
            raise ValueError(f"max_audio_len must be positive, got {self.max_audio_len}")

    def load(self, field: str, train: bool = False, rng: np.random.Generator | None = None) -> dict:
        waveform, _ = read_audio(media_path(field, self.media_dir), self.sample_rate)
        waveform = pad_or_crop(int16_round_trip(waveform), self.max_audio_len, rng, self.pad_mode)
        return {
            "patch_audio": torch.from_numpy(waveform),
            "patch_mask": torch.tensor([True]),
            "patch_type": int(Modality.AUDIO),
        }


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The random stream of one row in one epoch (frame choice, crops, augmentation)."""
    return np.random.default_rng([int(seed), int(epoch), int(index)])
