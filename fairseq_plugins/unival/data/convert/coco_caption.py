"""Karpathy-split COCO (``dataset_coco.json`` + image dir) -> ``caption`` TSVs.

* train (``train`` + ``restval`` images): one row per caption; uniq_id = the sentence id;
* val / test: one row per image; uniq_id = image_id = the COCO id; captions "&&"-joined;
* the caption is the Karpathy tokens joined by spaces (lowercase, no punctuation), or the
  pre_caption'd raw sentence where tokens are missing;
* the object-label column is empty; the image is base64 of the file (or its relative path).

Also writes a COCO-format reference file for val/test (``caption_{split}_gt.json``) for
pycocoevalcap scoring.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Iterator

from unival.data.convert.common import (
    ConversionReport,
    image_field,
    load_json,
    sanitize_text,
    write_tsv,
)
from unival.data.text import pre_caption

logger = logging.getLogger(__name__)

SPLIT_OF = {"train": "train", "restval": "train", "val": "val", "test": "test"}


def caption_text(sentence: dict) -> str:
    """A Karpathy sentence -> its caption text."""
    tokens = sentence.get("tokens")
    if tokens:
        return sanitize_text(" ".join(tokens)).lower()
    return pre_caption(sanitize_text(sentence.get("raw", "")))


def caption_rows(
    dataset: dict,
    split: str,
    image_dir: str | os.PathLike,
    restval_as_train: bool = True,
    image_paths: bool = False,
    report: ConversionReport | None = None,
) -> Iterator[list[str]]:
    """Rows of ``split`` ("train", "val" or "test") of the loaded ``dataset_coco.json``."""
    report = report if report is not None else ConversionReport()
    for entry in dataset["images"]:
        entry_split = SPLIT_OF.get(entry["split"])
        if entry["split"] == "restval" and not restval_as_train:
            entry_split = None
        if entry_split != split:
            continue
        image_id = str(entry.get("cocoid", entry.get("imgid")))
        relative = os.path.join(entry.get("filepath", ""), entry["filename"])
        pairs = [(s, c) for s in entry["sentences"] if (c := caption_text(s))]
        if not pairs:
            report.skip("image without captions", image_id)
            continue
        try:
            image = image_field(
                os.path.join(image_dir, relative), relative if image_paths else None
            )
        except ValueError as error:
            report.skip("bad image", f"{image_id}: {error}")
            continue
        if split == "train":
            for sentence, caption in pairs:
                yield [str(sentence.get("sentid", image_id)), image_id, caption, "", image]
        else:
            yield [image_id, image_id, "&&".join(c for _, c in pairs), "", image]


def reference_json(dataset: dict, split: str) -> dict:
    """COCO-format references of ``split``: images, annotations (one per caption)."""
    images, annotations = [], []
    for entry in dataset["images"]:
        if SPLIT_OF.get(entry["split"]) != split:
            continue
        image_id = int(entry.get("cocoid", entry.get("imgid")))
        images.append({"id": image_id})
        for caption in filter(None, (caption_text(s) for s in entry["sentences"])):
            annotations.append({"image_id": image_id, "id": len(annotations), "caption": caption})
    return {
        "info": {},
        "licenses": [],
        "type": "captions",
        "images": images,
        "annotations": annotations,
    }


def convert(
    dataset_json: str,
    image_dir: str,
    out_dir: str,
    splits: tuple[str, ...] = ("train", "val", "test"),
    **kwargs,
) -> ConversionReport:
    """Write ``caption_{split}.tsv`` (and ``caption_{split}_gt.json`` for val/test)."""
    dataset = load_json(dataset_json)
    report = ConversionReport()
    for split in splits:
        path = os.path.join(out_dir, f"caption_{split}.tsv")
        report.written[path] = write_tsv(
            path, caption_rows(dataset, split, image_dir, report=report, **kwargs)
        )
        if split != "train":
            with open(
                os.path.join(out_dir, f"caption_{split}_gt.json"), "w", encoding="utf-8"
            ) as f:
                json.dump(reference_json(dataset, split), f)
    return report
