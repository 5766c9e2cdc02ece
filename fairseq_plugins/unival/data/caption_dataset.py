"""Image captioning samples (COCO-style caption TSVs).

Fields (after ``--selected-cols`` 0,4,2 for train, 1,4,2 for evaluation):
``uniq_id`` (or image_id), ``image`` (base64 or path), ``caption``.

* source = [BOS] " what does the image describe?" [EOS]
* train target = " " + punctuation-stripped caption, truncated to ``max_tgt_length`` words
* val/test, and train with ``train_references`` (SCST): ``references`` = every "&&"-separated
  reference, punctuation-stripped; the target (for the validation loss only) is the first
  reference, truncated like train.
* ``patch_image`` (3, P, P): bicubic resize to P = ``patch_image_size``, normalised.

The same dataset serves ``video_caption`` and ``audio_caption``: the
task passes a ``media_loader`` (:mod:`unival.data.media`) for the media column and the
``prompt`` (" what does the video describe?", also for audio, as the original code does).
"""

from __future__ import annotations

import os
from functools import partial

from unival.data.base_dataset import UnivalDataset
from unival.data.media import ImageLoader
from unival.data.text import caption_words
from unival.data.tsv import TSVFile, TSVRow
from unival.tokenizer import UnivalTokenizer

CAPTION_PROMPT = " what does the image describe?"
VIDEO_CAPTION_PROMPT = " what does the video describe?"
REFERENCE_SEPARATOR = "&&"


def split_references(field: str) -> list[str]:
    """``"a cat.&&A dog!"`` -> ``["a cat", "A dog"]`` (punctuation stripped, empties dropped)."""
    references = [caption_words(ref) for ref in " ".join(field.split()).split(REFERENCE_SEPARATOR)]
    references = [ref for ref in references if ref]
    if not references:
        raise ValueError("no reference caption")
    return references


class CaptionDataset(UnivalDataset):
    """Captioning over a TSV whose selected fields are (uniq_id, media, caption)."""

    FIELDS = ("uniq_id", "image", "caption")

    def __init__(
        self,
        split: str,
        tsv: TSVFile,
        tokenizer: UnivalTokenizer,
        patch_image_size: int = 480,
        max_src_length: int = 80,
        max_tgt_length: int = 20,
        image_dir: str | os.PathLike | None = None,
        skip_bad_samples: bool = False,
        read_from_img_path: bool = False,
        media_loader=None,
        prompt: str = CAPTION_PROMPT,
        seed: int = 1,
        train_references: bool = False,
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
        self.image_dir = image_dir
        self.read_from_img_path = read_from_img_path
        self.media_loader = media_loader or ImageLoader(
            patch_image_size, None if image_dir is None else str(image_dir), read_from_img_path
        )
        self.prompt = prompt
        self.seed = seed
        self.train_references = train_references

    @property
    def is_train(self) -> bool:
        return self.split == "train"

    def process_row(self, index: int, row: TSVRow) -> dict:
        uniq_id = self.decode_field(row, 0, self.FIELDS[0], str.strip)
        media = self.load_media(row, 1, index)
        if self.is_train and not self.train_references:
            caption = self.decode_field(
                row, 2, self.FIELDS[2], partial(caption_words, max_words=self.max_tgt_length)
            )
            if not caption:
                raise row.error(2, "empty caption after removing punctuation", self.FIELDS[2])
            references = None
        else:
            references = self.decode_field(row, 2, self.FIELDS[2], split_references)
            caption = caption_words(references[0], self.max_tgt_length)
        sample = {
            "id": index,
            "uniq_id": uniq_id,
            **media,
            **self.make_sequences(self.prompt, " " + caption),
        }
        if references is not None:
            sample["references"] = references
        return sample
