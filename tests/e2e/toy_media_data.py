"""Tiny toy media worlds for the video/audio end-to-end tests (one per test module)."""

from pathlib import Path

from unival.toy_world.build import ToyWorldConfig, build_toy_world_with_media
from unival.toy_world.media import ToyMediaConfig

# 8 training clips of 32 px and 4 frames (audio: 1-2 s clips, cropped to 0.5 s at 16 kHz)
MEDIA = ToyMediaConfig(seed=0, num_train=8, num_valid=4, num_test=4, video_size=32, num_frames=4)
IMAGES = ToyWorldConfig(seed=0, num_train=2, num_valid=1, num_test=1)


def build_media_world(root: Path) -> Path:
    """The toy world with media under ``root`` (TSVs, videos/, audios/, dict.txt)."""
    build_toy_world_with_media(root, IMAGES, MEDIA)
    return root


def epoch_losses(log: str) -> list:
    import re

    return [float(loss) for _, loss in re.findall(r"\| train \| epoch (\d+) \| loss ([\d.]+)", log)]
