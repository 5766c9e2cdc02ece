"""The ``unify_task`` pretraining task: multitask image/video-text pretraining.

``--data a.tsv,b.tsv,...``: all paths are training files, epoch e reads (e-1) mod N; validation
(disabled in the released recipe with ``--disable-validation``) reads ``--valid-data`` or,
without it, the last path. Auxiliary streams are read alongside the main file, one row each
every ``*_cnt`` main rows (the per-source sampling of the released pretraining scripts):

    --image-text-vqa-data / --image-text-vqa-cnt      (QA rows)
    --image-text-ground-data / --image-text-ground-cnt (grounding rows)
    --image-text-data / --image-text-cnt               (extra caption rows, e.g. CC12M)
    --video-data / --video-cnt [--video-selected-cols] (video caption / QA rows)

Batches are ``[v1, v2]`` (image examples, video examples) or a single one of them; the
``adjust_label_smoothed_cross_entropy`` criterion sums loss_v / ntokens_v over the list.
``--text-selected-cols``, ``--image-selected-cols`` and ``--detection-selected-cols`` of the
released scripts are accepted and ignored (the released config no longer declares them); the
text/image/detection objectives themselves are not part of the recipe, and their data flags
are refused.
"""

import logging
from dataclasses import dataclass, field
from typing import List, Optional

from fairseq.tasks import register_task

from unival import optim  # noqa: F401  (registers polynomial_decay_warmup_ratio, which the pretraining recipes use)
from unival.data.io.box_transforms import AUGMENT_OPS, parse_augment_ops
from unival.data.pretrain_dataset import AuxiliaryStream, MediaSettings, PretrainDataset
from unival.data.pretrain_objectives import NegativeSamples, PretrainExamples
from unival.data.tsv import TSVFile
from unival.tasks.base import UnivalTask, data_parallel_rank_and_size
from unival.tasks.config import UnivalTaskConfig

logger = logging.getLogger(__name__)


@dataclass
class UnifyTaskConfig(UnivalTaskConfig):
    patch_image_size: int = field(default=384, metadata={"help": "image side P"})
    max_src_length: int = field(
        default=80, metadata={"help": "truncate source text to this many words"}
    )
    max_tgt_length: int = field(
        default=30, metadata={"help": "truncate target text to this many words"}
    )
    valid_data: Optional[str] = field(
        default=None, metadata={"help": "validation TSV (default: the last --data path)"}
    )
    neg_sample_dir: Optional[str] = field(
        default=None,
        metadata={"help": "directory with all_captions.txt, object.txt, type2ans.json"},
    )
    image_text_data: Optional[str] = field(
        default=None, metadata={"help": "extra image-caption TSV (CC12M)"}
    )
    image_text_cnt: int = field(
        default=1, metadata={"help": "one image-text row every this many main rows"}
    )
    image_text_vqa_data: Optional[str] = field(default=None, metadata={"help": "QA TSV"})
    image_text_vqa_cnt: int = field(
        default=1, metadata={"help": "one QA row every this many main rows"}
    )
    image_text_ground_data: Optional[str] = field(default=None, metadata={"help": "grounding TSV"})
    image_text_ground_cnt: int = field(
        default=1, metadata={"help": "one grounding row every this many main rows"}
    )
    video_data: Optional[str] = field(
        default=None, metadata={"help": "video caption / video QA TSV"}
    )
    video_cnt: int = field(default=1, metadata={"help": "one video row every this many main rows"})
    video_selected_cols: Optional[str] = field(
        default=None, metadata={"help": "columns of the video TSV"}
    )
    text_data: Optional[str] = field(
        default=None, metadata={"help": "unsupported (OFA text infilling)"}
    )
    image_data: Optional[str] = field(
        default=None, metadata={"help": "unsupported (OFA image infilling)"}
    )
    detection_data: Optional[str] = field(
        default=None, metadata={"help": "unsupported (OFA detection)"}
    )
    text_selected_cols: Optional[str] = field(
        default=None, metadata={"help": "accepted and ignored"}
    )
    image_selected_cols: Optional[str] = field(
        default=None, metadata={"help": "accepted and ignored"}
    )
    detection_selected_cols: Optional[str] = field(
        default=None, metadata={"help": "accepted and ignored"}
    )
    read_from_img_path: bool = field(
        default=False, metadata={"help": "media are paths under --image-dir (always so here)"}
    )
    patch_frame_size: int = field(default=224, metadata={"help": "video frame side"})
    num_frames: int = field(default=8, metadata={"help": "frames sampled per video"})
    random_resize_max: int = field(
        default=480, metadata={"help": "augmentation: shorter side drawn from [P, this]"}
    )
    random_resize_cap: int = field(
        default=672, metadata={"help": "augmentation: cap on each side after resizing"}
    )
    pretrain_seed: int = field(
        default=7, metadata={"help": "seed of the per-item augmentation and sampling"}
    )
    augment_ops: str = field(
        default=",".join(AUGMENT_OPS),
        metadata={
            "help": "RandomAugment's ops for caption and QA images, comma-separated ('none': "
            "no RandomAugment); default: the recipe's ten. Drop Equalize and AutoContrast "
            "where an answer names a colour they change (they turn the toy world's blue teal)"
        },
    )


@register_task("unify_task", dataclass=UnifyTaskConfig)
class UnifyTask(UnivalTask):
    cfg: UnifyTaskConfig

    def __init__(self, cfg: UnifyTaskConfig, tokenizer):
        for name in ("text_data", "image_data", "detection_data"):
            if getattr(cfg, name):
                raise ValueError(
                    f"--{name.replace('_', '-')}: OFA's text/image infilling and "
                    "detection objectives "
                    "are not part of the UnIVAL recipe and are not implemented"
                )
        self.augment_ops = parse_augment_ops(cfg.augment_ops)
        super().__init__(cfg, tokenizer)
        self._negatives = None

    # ------------------------------------------------------------------ files
    def path_for_split(self, split: str, epoch: int = 1) -> str:
        """train: path (epoch-1) mod N of all paths; other splits: --valid-data, else the last
        path."""
        paths = self.data_paths()
        if split != "train":
            return self.cfg.valid_data or paths[-1]
        return paths[(epoch - 1) % len(paths)]

    def has_sharded_data(self, split):
        return split == "train" and len(self.data_paths()) > 1

    def auxiliary_sources(self) -> List[tuple]:
        """[(name, path, every, selected_cols)] of the configured auxiliary streams."""
        cfg = self.cfg
        sources = [
            ("vqa", cfg.image_text_vqa_data, cfg.image_text_vqa_cnt, cfg.selected_cols),
            ("ground", cfg.image_text_ground_data, cfg.image_text_ground_cnt, cfg.selected_cols),
            ("image_text", cfg.image_text_data, cfg.image_text_cnt, cfg.selected_cols),
            ("video", cfg.video_data, cfg.video_cnt, cfg.video_selected_cols or cfg.selected_cols),
        ]
        out = []
        for name, path, every, cols in sources:
            if not path:
                continue
            if every < 1:
                raise ValueError(f"the {name} stream's count must be >= 1, got {every}")
            out.append((name, path, every, cols))
        return out

    def negatives(self):

        if self._negatives is None and self.cfg.neg_sample_dir:
            self._negatives = NegativeSamples.from_dir(self.cfg.neg_sample_dir)
        return self._negatives

    # ------------------------------------------------------------------ data
    def build_dataset(self, split: str, tsv):

        cfg = self.cfg
        streams = []
        if split == "train":
            rank, world = data_parallel_rank_and_size()
            for name, path, every, cols in self.auxiliary_sources():
                aux = TSVFile(
                    path,
                    selected_cols=cols,
                    slice_id=rank,
                    slice_count=world,
                    expected_columns="infer",
                )
                streams.append(AuxiliaryStream(name, aux, every))
                logger.info(
                    "auxiliary stream %s: %s, one row every %d main rows", name, path, every
                )
        examples = PretrainExamples(
            self.tokenizer, cfg.max_src_length, cfg.max_tgt_length, cfg.max_image_size
        )
        media = MediaSettings(
            patch_image_size=cfg.patch_image_size,
            random_resize_max=cfg.random_resize_max,
            random_resize_cap=cfg.random_resize_cap,
            patch_frame_size=cfg.patch_frame_size,
            num_frames=cfg.num_frames,
            image_dir=cfg.image_dir,
            augment_ops=self.augment_ops,
        )
        return PretrainDataset(
            split,
            tsv,
            self.tokenizer,
            examples,
            self.negatives() if split == "train" else None,
            media,
            streams,
            seed=cfg.pretrain_seed,
            skip_bad_samples=cfg.skip_bad_samples,
        )
