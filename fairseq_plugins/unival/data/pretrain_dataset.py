"""Multitask pretraining samples of ``unify_task``.

Every TSV (main and auxiliary) has the 8 columns ``uniq_id, media_path, caption, question,
refs, gt_objects, dataset_name, type`` (after ``--selected-cols 0,...,7``), with ``type`` one
of ``caption``, ``qa``, ``visual_grounding``, ``video_caption``, ``video_qa``.

Item ``i`` of the dataset is main row ``i`` plus one row of each auxiliary stream whose
``every`` divides ``i`` (``--image-text-vqa-cnt`` etc.). Stream ``s`` reads its file
sequentially: at epoch e it reads row ``((e - 1) * ceil(N / every) + i // every) mod len(s)``,
so successive epochs continue through the file. Each row yields two examples in training
(the main example plus image-text matching for caption/QA rows or grounded captioning for
grounding rows; only the main one otherwise). The collater puts image examples in sub-batch
v1 and video examples in v2: the batch is v1, v2 or the list ``[v1, v2]`` the criterion sums.

Randomness (augmentation, ITM coin flips, negatives, frame sampling) is drawn from generators
seeded by (``seed``, epoch, i), so items are reproducible and independent of worker layout.
A bad row (media, fields) raises :class:`BadSampleError`, or with ``skip_bad_samples`` is
dropped with its reason counted in the batch's ``nskipped``/``skipped``.
"""

from __future__ import annotations

import logging
import math
import os
import random
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from unival.data.base_dataset import UnivalDataset
from unival.data.collate import collate
from unival.data.errors import BadSampleError
from unival.data.io import box_transforms as bt
from unival.data.io.image import decode_image
from unival.data.io.transforms import image_to_tensor, normalize, pil_to_tensor
from unival.data.io.video import read_video_frames
from unival.data.io.video_transforms import video_to_tensor
from unival.data.modality import Modality
from unival.data.pretrain_objectives import NegativeSamples, PretrainExamples, split_objects
from unival.data.refcoco_dataset import parse_region
from unival.data.tsv import TSVFile, TSVRow

logger = logging.getLogger(__name__)

FIELDS = ("uniq_id", "media", "caption", "question", "refs", "gt_objects", "dataset_name", "type")
IMAGE_TYPES = ("caption", "qa", "visual_grounding")
VIDEO_TYPES = ("video_caption", "video_qa")


@dataclass
class AuxiliaryStream:
    """An auxiliary TSV read one row per ``every`` main rows (``every`` >= 1)."""

    name: str
    tsv: TSVFile
    every: int

    def row_for(self, index: int, epoch: int, main_rows: int) -> Optional[int]:
        if self.every < 1 or index % self.every != 0 or len(self.tsv) == 0:
            return None
        per_epoch = math.ceil(main_rows / self.every)
        return ((epoch - 1) * per_epoch + index // self.every) % len(self.tsv)


@dataclass
class MediaSettings:
    patch_image_size: int = 384
    random_resize_max: int = 480  # shorter side drawn from [P, max(P, this)]
    random_resize_cap: int = 672  # each side capped after the resize
    patch_frame_size: int = 224
    num_frames: int = 8
    image_dir: Optional[str] = None
    augment_ops: Tuple[str, ...] = bt.AUGMENT_OPS  # RandomAugment's ops; () = none


class PretrainDataset(UnivalDataset):
    """``unify_task`` items over the main TSV slice and its auxiliary streams."""

    def __init__(
        self,
        split: str,
        tsv: TSVFile,
        tokenizer,
        examples: PretrainExamples,
        negatives: Optional[NegativeSamples],
        media: MediaSettings,
        streams: List[AuxiliaryStream] = (),
        seed: int = 7,
        skip_bad_samples: bool = False,
    ):
        super().__init__(
            split,
            tsv,
            tokenizer,
            skip_bad_samples=skip_bad_samples,
            max_src_length=examples.max_src_length,
            max_tgt_length=examples.max_tgt_length,
        )
        if self.is_train and negatives is None:
            raise ValueError(
                "pretraining needs negative samples (--neg-sample-dir) for its ITM examples"
            )
        self.examples = examples
        self.negatives = negatives
        self.media = media
        self.streams = list(streams)
        self.seed = seed

    @property
    def is_train(self) -> bool:
        return self.split == "train"

    # -- items ------------------------------------------------------------------------------
    def rows_of_item(self, index: int) -> List[tuple]:
        """[(source name, TSVFile, row)] read for item ``index``: the main row, then auxiliaries."""
        rows = [("main", self.tsv, index)]
        for stream in self.streams:
            row = stream.row_for(index, self.epoch, len(self.tsv))
            if row is not None:
                rows.append((stream.name, stream.tsv, row))
        return rows

    def __getitem__(self, index) -> dict:
        index = int(index)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        coin = random.Random(int(rng.integers(2**62)))
        item = {"id": index, "image": [], "video": [], "skipped_rows": []}
        for source, tsv, row_index in self.rows_of_item(index):
            try:
                modality, examples = self.process_row(index, tsv[row_index], rng, coin)
            except BadSampleError as error:
                if not self.skip_bad_samples:
                    raise
                self.num_skipped += 1
                logger.warning("skipping bad %s row for item %d: %s", source, index, error)
                item["skipped_rows"].append(str(error))
                if self.bad_row_budget is not None:
                    self.bad_row_budget.record(True, str(error))
                continue
            if self.bad_row_budget is not None:
                self.bad_row_budget.record(False)
            item[modality].extend(examples)
        return item

    def process_row(
        self, index: int, row: TSVRow, rng: np.random.Generator = None, coin: random.Random = None
    ):
        """One row -> ("image" | "video", [example dicts])."""
        rng = rng if rng is not None else np.random.default_rng()
        coin = coin if coin is not None else random.Random()
        field = {name: self.decode_field(row, i, name, str) for i, name in enumerate(FIELDS)}
        kind = field["type"].strip()
        if kind in ("caption", "qa"):
            image = self.decode_field(row, 1, "media", lambda f: self._image(f, rng))
            examples = self._text_examples(row, field, kind, "image", coin)
            media = {"patch_image": image, "patch_type": int(Modality.IMAGE)}
        elif kind == "visual_grounding":
            image, examples = self._grounding(row, field, rng)
            media = {"patch_image": image, "patch_type": int(Modality.IMAGE)}
        elif kind in VIDEO_TYPES:
            video = self.decode_field(row, 1, "media", lambda f: self._video(f, rng))
            examples = self._text_examples(row, field, kind[len("video_") :], "video", coin)
            media = {"patch_video": video, "patch_type": int(Modality.VIDEO)}
        else:
            raise row.error(
                7, f"unknown pretraining type {kind!r} (known: {IMAGE_TYPES + VIDEO_TYPES})", "type"
            )
        for example in examples:
            example.update(
                media, id=index, uniq_id=field["uniq_id"], patch_mask=torch.tensor([True])
            )
        return ("video" if kind in VIDEO_TYPES else "image"), examples

    def _text_examples(
        self, row: TSVRow, field: Dict[str, str], kind: str, media: str, coin: random.Random
    ) -> List[dict]:
        build = self.examples
        if kind == "caption":
            main = self.decode_field(
                row, 2, "caption", lambda c: build.caption(c, media, field["dataset_name"].strip())
            )
            if not self.is_train:
                return [main]
            objects = split_objects(field["gt_objects"])
            return [main, build.caption_itm(field["caption"], objects, self.negatives, coin, media)]
        main = self.decode_field(row, 4, "refs", lambda refs: build.qa(field["question"], refs))
        if not self.is_train:
            return [main]
        itm = build.qa_itm(field["question"], field["refs"], self.negatives, coin)
        return [main] + ([itm] if itm is not None else [])

    def _grounding(self, row: TSVRow, field: Dict[str, str], rng: np.random.Generator):
        size = self.media.patch_image_size
        img = self.decode_field(row, 1, "media", self._open)
        box = self.decode_field(row, 4, "refs", parse_region).float().unsqueeze(0)
        if self.is_train:
            sizes = list(range(size, max(size, self.media.random_resize_max) + 1))
            img, box = bt.random_resize(img, box, sizes, self.media.random_resize_cap, rng)
            img, box = bt.object_center_crop(img, box, size)
        else:
            img, box, _, _ = bt.square_resize(img, box, size)
            box = bt.clip_boxes(box, size, size)
        coords = box[0].tolist()
        examples = [
            self.decode_field(
                row, 4, "refs", lambda _: self.examples.grounding(field["caption"], coords)
            )
        ]
        if self.is_train:
            examples.append(
                self.decode_field(
                    row, 2, "caption", lambda c: self.examples.grounded_caption(c, coords)
                )
            )
        return normalize(pil_to_tensor(img)), examples

    # -- media ------------------------------------------------------------------------------
    def _open(self, field: str):
        return decode_image(field, self.media.image_dir, read_from_path=True)

    def _image(self, field: str, rng: np.random.Generator) -> torch.Tensor:
        """Train: random shorter-side resize, centre crop P, RandomAugment(2, 7) over the
        configured ops (none configured: skipped); else resize to P x P."""
        img = self._open(field)
        size = self.media.patch_image_size
        if not self.is_train:
            return image_to_tensor(img, size)
        sizes = list(range(size, max(size, self.media.random_resize_max) + 1))
        img, _ = bt.random_resize(img, None, sizes, self.media.random_resize_cap, rng)
        img, _ = bt.center_crop(img, None, size)
        if self.media.augment_ops:
            img, _ = bt.random_augment(img, None, rng, ops=self.media.augment_ops)
        return normalize(pil_to_tensor(img))

    def _video(self, field: str, rng: np.random.Generator) -> torch.Tensor:

        directory = self.media.image_dir
        path = os.path.join(directory, field.strip()) if directory else field.strip()
        frames = read_video_frames(path, self.media.num_frames, "rand", rng)
        return video_to_tensor(
            frames, self.media.patch_frame_size, train=self.is_train, augment=True, rng=rng
        )

    # -- batching ---------------------------------------------------------------------------
    def collater(self, samples: List[dict]):
        """Image examples -> v1, video examples -> v2; returns v1, v2 or [v1, v2] ({} if none)."""
        pad, eos = self.tokenizer.pad, self.tokenizer.eos
        skipped = [reason for s in samples for reason in s.get("skipped_rows", [])]
        batches = []
        for modality in ("image", "video"):
            examples = [e for s in samples for e in s.get(modality, [])]
            if examples:
                batches.append(collate(examples, pad_idx=pad, eos_idx=eos))
        if not batches:
            if skipped:
                logger.warning("every row of a batch was skipped: %s", "; ".join(skipped))
            return {}
        batches[0]["nskipped"] = len(skipped)
        batches[0]["skipped"] = skipped
        return batches[0] if len(batches) == 1 else batches

    def num_tokens(self, index) -> int:
        return 2 * (self.max_src_length + self.max_tgt_length) * (1 + len(self.streams))
