"""``video_caption`` (MSR-VTT, ActivityNet Captions): the caption task on videos.

TSV fields (``--selected-cols 0,4,2``): uniq_id, video path (under ``--image-dir``), caption
("&&"-joined references in valid/test). Prompt " what does the video describe?"; frames per
:class:`unival.tasks.media_inputs.VideoInputConfig`. Validation and scores as ``caption``.
"""

from dataclasses import dataclass

from fairseq.tasks import register_task

from unival.data.caption_dataset import CaptionDataset
from unival.tasks.caption import CaptionConfig, CaptionTask
from unival.tasks.media_inputs import MEDIA_SEED, VideoInputConfig, video_loader


@dataclass
class VideoCaptionConfig(CaptionConfig, VideoInputConfig):
    pass


class MediaCaptionTask(CaptionTask):
    """Captioning whose media column is read by :meth:`media_loader` (video or audio)."""

    prompt = " what does the video describe?"

    def media_loader(self):
        raise NotImplementedError(f"{type(self).__name__} must implement media_loader")

    def build_dataset(self, split: str, tsv):

        return CaptionDataset(
            split,
            tsv,
            self.tokenizer,
            max_src_length=self.cfg.max_src_length,
            max_tgt_length=self.cfg.max_tgt_length,
            skip_bad_samples=self.cfg.skip_bad_samples,
            media_loader=self.media_loader(),
            prompt=self.prompt,
            seed=MEDIA_SEED,
        )


@register_task("video_caption", dataclass=VideoCaptionConfig)
class VideoCaptionTask(MediaCaptionTask):
    cfg: VideoCaptionConfig

    def media_loader(self):
        return video_loader(self.cfg)
