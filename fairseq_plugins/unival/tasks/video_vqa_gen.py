"""``video_vqa_gen`` (MSRVTT-QA, MSVD-QA): ``vqa_gen`` on videos.

TSV fields (``--selected-cols 0,5,2,3,4``): question_id, video path (under ``--image-dir``),
question, "1.0|!+answer", empty. Answer trie, prompt types, beam-search / all-candidate
validation and ``vqa_score`` (exact match here: confidences are 1.0) are those of
``vqa_gen``; frames per :class:`unival.tasks.media_inputs.VideoInputConfig`.
"""

from dataclasses import dataclass

from fairseq.tasks import register_task

from unival.data.vqa_dataset import VqaGenDataset
from unival.tasks.media_inputs import MEDIA_SEED, VideoInputConfig, video_loader
from unival.tasks.vqa_gen import VqaGenConfig, VqaGenTask


@dataclass
class VideoVqaGenConfig(VqaGenConfig, VideoInputConfig):
    pass


@register_task("video_vqa_gen", dataclass=VideoVqaGenConfig)
class VideoVqaGenTask(VqaGenTask):
    cfg: VideoVqaGenConfig

    def build_dataset(self, split: str, tsv):

        kwargs = dict(self.dataset_kwargs(), media_loader=video_loader(self.cfg), seed=MEDIA_SEED)
        return VqaGenDataset(
            split,
            tsv,
            self.tokenizer,
            add_object=self.cfg.add_object,
            max_object_length=self.cfg.max_object_length,
            **kwargs,
        )
