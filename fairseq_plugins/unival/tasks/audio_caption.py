"""``audio_caption`` (AudioCaps, Clotho): the caption task on audio clips.

TSV fields (``--selected-cols 0,4,2``): uniq_id, audio path (under ``--image-dir``), caption.
The prompt is the VIDEO prompt " what does the video describe?", verbatim as the reference
does. Waveforms per :class:`unival.tasks.media_inputs.AudioInputConfig`; the model
needs an audio encoder (``--audio-encoder-name pann_cnn14``).
"""

from dataclasses import dataclass

from fairseq.tasks import register_task

from unival.tasks.media_inputs import AudioInputConfig, audio_loader
from unival.tasks.video_caption import CaptionConfig, MediaCaptionTask


@dataclass
class AudioCaptionConfig(CaptionConfig, AudioInputConfig):
    pass


@register_task("audio_caption", dataclass=AudioCaptionConfig)
class AudioCaptionTask(MediaCaptionTask):
    cfg: AudioCaptionConfig

    def media_loader(self):
        return audio_loader(self.cfg)
