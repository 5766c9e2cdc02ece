"""Visual grounding samples (RefCOCO/+/g).

Fields (after ``--selected-cols 0,4,2,3``): ``uniq_id``, ``image`` (base64 or path),
``text``, ``region`` ("x0,y0,x1,y1" in original-image pixels).

* source = [BOS] ' which region does the text " {caption} " describe?' [EOS], with
  caption = pre_caption(text, max_src_length)
* image: bicubic resize to exactly P x P (P = ``patch_image_size``), normalised -> (3, P, P)
* target = the four ``<bin_k>`` of the resized box (k = round(coord / max_image_size * 999)) + EOS;
  prev_output_tokens = [BOS] + the four bins
* extra per sample (and per batch, plural): ``w_resize_ratio`` = P / w, ``h_resize_ratio`` = P / h,
  ``region_coord`` (4,) the original box, used to de-quantise predictions for evaluation.
"""

from __future__ import annotations

import os

import torch

from unival.data.base_dataset import UnivalDataset
from unival.data.io.box_transforms import clip_boxes, square_resize
from unival.data.io.image import decode_image
from unival.data.io.transforms import normalize, pil_to_tensor
from unival.data.modality import Modality
from unival.data.text import pre_caption
from unival.data.tsv import TSVFile, TSVRow
from unival.tokenizer import UnivalTokenizer

GROUNDING_PROMPT = ' which region does the text " {} " describe?'


def grounding_prompt(text: str, max_words: int) -> str:
    return GROUNDING_PROMPT.format(pre_caption(text, max_words))


def parse_region(field: str) -> torch.Tensor:
    """``"x0,y0,x1,y1"`` -> (4,) float tensor; ValueError unless 4 finite numbers with
    x0 <= x1, y0 <= y1."""
    parts = [p for p in field.strip().split(",")]
    if len(parts) != 4:
        raise ValueError(f"region needs 4 comma-separated numbers, got {field.strip()!r}")
    box = torch.tensor([float(p) for p in parts], dtype=torch.float64)
    if not torch.isfinite(box).all():
        raise ValueError(f"region {field.strip()!r} is not finite")
    if box[2] < box[0] or box[3] < box[1]:
        raise ValueError(f"region {field.strip()!r} has x1 < x0 or y1 < y0")
    return box


class RefcocoDataset(UnivalDataset):
    """Grounding over a TSV whose selected fields are (uniq_id, image, text, region)."""

    FIELDS = ("uniq_id", "image", "text", "region")

    def __init__(
        self,
        split: str,
        tsv: TSVFile,
        tokenizer: UnivalTokenizer,
        patch_image_size: int = 512,
        max_image_size: int = 512,
        max_src_length: int = 80,
        max_tgt_length: int = 20,
        image_dir: str | os.PathLike | None = None,
        skip_bad_samples: bool = False,
        read_from_img_path: bool = False,
    ):
        super().__init__(
            split,
            tsv,
            tokenizer,
            skip_bad_samples=skip_bad_samples,
            max_src_length=max_src_length,
            max_tgt_length=max_tgt_length,
        )
        self.patch_image_size = patch_image_size
        self.max_image_size = max_image_size
        self.image_dir = image_dir
        self.read_from_img_path = read_from_img_path

    def process_row(self, index: int, row: TSVRow) -> dict:
        uniq_id = self.decode_field(row, 0, self.FIELDS[0], str.strip)
        image = self.decode_field(
            row,
            1,
            self.FIELDS[1],
            lambda f: decode_image(f, self.image_dir, read_from_path=self.read_from_img_path),
        )
        text = self.decode_field(row, 2, self.FIELDS[2], lambda f: f)
        region = self.decode_field(row, 3, self.FIELDS[3], parse_region)
        size = self.patch_image_size
        resized, boxes, w_ratio, h_ratio = square_resize(image, region.unsqueeze(0), size)
        box = clip_boxes(boxes, size, size)[0]
        bins = self.decode_field(
            row,
            3,
            self.FIELDS[3],
            lambda _: self.tokenizer.box_to_tokens(box.tolist(), self.max_image_size),
        )
        bos = torch.tensor([self.tokenizer.bos])
        eos = torch.tensor([self.tokenizer.eos])
        prompt = self.encode_text(grounding_prompt(text, self.max_src_length))
        return {
            "id": index,
            "uniq_id": uniq_id,
            "source": torch.cat([bos, prompt, eos]),
            "target": torch.cat([bins, eos]),
            "prev_output_tokens": torch.cat([bos, bins]),
            "patch_image": normalize(pil_to_tensor(resized)),
            "patch_mask": torch.tensor([True]),
            "patch_type": int(Modality.IMAGE),
            "w_resize_ratio": w_ratio,
            "h_resize_ratio": h_ratio,
            "region_coord": region.float(),
        }

    def collater(self, samples: list[dict]) -> dict:
        """The shared collate plus ``w_resize_ratios`` (B,), ``h_resize_ratios`` (B,) and
        ``region_coords`` (B, 4) of the kept samples."""
        batch = super().collater(samples)
        kept = [s for s in samples if "skipped" not in s]
        if batch and kept:
            batch["w_resize_ratios"] = torch.tensor([s["w_resize_ratio"] for s in kept])
            batch["h_resize_ratios"] = torch.tensor([s["h_resize_ratio"] for s in kept])
            batch["region_coords"] = torch.stack([s["region_coord"] for s in kept])
        return batch
