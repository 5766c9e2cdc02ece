"""Task options of the video and audio inputs (official flag names) and the loaders they build.

``VideoInputConfig`` / ``AudioInputConfig`` are mixed into a task's config next to its image
parent (``VideoCaptionConfig(CaptionConfig, VideoInputConfig)``), so the caption and VQA
tasks serve every modality with one dataset each (:mod:`unival.data.media`).
"""

from dataclasses import dataclass, field
from typing import Optional

from fairseq.dataclass import ChoiceEnum, FairseqDataclass

from unival.data.io.video import SAMPLINGS
from unival.data.media import AudioLoader, VideoLoader

# media loading draws from a stream keyed on (this, epoch, row): runs repeat exactly
MEDIA_SEED = 1


@dataclass
class VideoInputConfig(FairseqDataclass):
    num_frames: int = field(
        default=4, metadata={"help": "frames sampled per video (scripts: 16 caption, 8 QA)"}
    )
    patch_frame_size: int = field(
        default=224, metadata={"help": "side of the centre-cropped frames"}
    )
    sample_type: ChoiceEnum(SAMPLINGS) = field(
        default="rand",
        metadata={"help": "frame sampling: rand (one random frame per segment), middle, uniform"},
    )
    eval_sample_type: Optional[ChoiceEnum(SAMPLINGS)] = field(
        default=None,
        metadata={
            "help": "frame sampling of valid/test (default: --sample-type, i.e. rand as the "
            "reference; 'middle' makes evaluation deterministic in the clip)"
        },
    )
    use_dataaug: bool = field(
        default=False, metadata={"help": "train with RandAugment + random resized crop + flip"}
    )


@dataclass
class AudioInputConfig(FairseqDataclass):
    max_audio_len: int = field(
        default=480000,
        metadata={
            "help": "waveform samples S: longer clips are randomly cropped, shorter "
            "ones tiled and zero-padded"
        },
    )
    audio_sample_rate: bool = field(
        default=False,
        metadata={"help": "resample audio to --sample-rate (default: keep each file's rate)"},
    )
    sample_rate: int = field(default=48000, metadata={"help": "target rate of --audio-sample-rate"})


def video_loader(cfg) -> VideoLoader:
    """The video loader of a task config with :class:`VideoInputConfig` fields."""
    return VideoLoader(
        num_frames=cfg.num_frames,
        size=cfg.patch_frame_size,
        media_dir=cfg.image_dir,
        sample_type=str(cfg.sample_type),
        eval_sample_type=str(cfg.eval_sample_type) if cfg.eval_sample_type else None,
        use_dataaug=cfg.use_dataaug,
    )


def audio_loader(cfg) -> AudioLoader:
    """The audio loader of a task config with :class:`AudioInputConfig` fields."""
    return AudioLoader(
        max_audio_len=cfg.max_audio_len,
        media_dir=cfg.image_dir,
        sample_rate=cfg.sample_rate if cfg.audio_sample_rate else None,
    )
