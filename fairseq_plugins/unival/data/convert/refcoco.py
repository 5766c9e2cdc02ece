"""RefCOCO / RefCOCO+ / RefCOCOg (``refs(unc).p`` + ``instances.json``) -> ``refcoco`` TSVs
(the OFA/UnIVAL grounding layout).

One row per referring sentence: uniq_id = the sentence id, image_id, text (the refer API's
processed ``sent``), region = the annotation's COCO box [x, y, w, h] as "x0,y0,x1,y1"
(original pixels, at most two decimals), image (base64 of the COCO file, or its path).
One file per split of the refs (``refcoco_{split}.tsv``: train, val, testA, testB, test).
"""

from __future__ import annotations

import logging
import os
from typing import Iterator

from unival.data.convert.common import (
    ConversionReport,
    format_box,
    image_field,
    load_json,
    sanitize_text,
    write_tsv,
    xywh_to_xyxy,
)
from unival.safe_load.pickle_files import load_plain_pickle

logger = logging.getLogger(__name__)


def load_refs(path: str | os.PathLike) -> list[dict]:
    """The refer toolkit's pickle (read as plain data only): a list of ref dicts."""
    refs = load_plain_pickle(path, "a refer-toolkit list of refs")
    if not isinstance(refs, list):
        raise ValueError(f"{path}: expected a pickled list of refs")
    return refs


def refcoco_rows(
    refs: list[dict],
    instances: dict,
    split: str,
    image_dir: str | os.PathLike,
    image_paths: bool = False,
    report: ConversionReport | None = None,
) -> Iterator[list[str]]:
    """Rows of the refs of ``split``."""
    report = report if report is not None else ConversionReport()
    images = {int(i["id"]): i for i in instances["images"]}
    boxes = {int(a["id"]): a["bbox"] for a in instances["annotations"]}
    cache: dict[int, str] = {}
    for ref in refs:
        if ref["split"] != split:
            continue
        image_id, ann_id = int(ref["image_id"]), int(ref["ann_id"])
        if ann_id not in boxes or image_id not in images:
            report.skip("ref without annotation or image", str(ref.get("ref_id")))
            continue
        x0, y0, x1, y1 = xywh_to_xyxy(boxes[ann_id])
        if x1 <= x0 or y1 <= y0:
            report.skip("degenerate box", f"ann {ann_id}: {boxes[ann_id]}")
            continue
        if image_id not in cache:
            name = images[image_id]["file_name"]
            try:
                cache = {
                    image_id: image_field(
                        os.path.join(image_dir, name), name if image_paths else None
                    )
                }
            except ValueError as error:
                report.skip("bad image", f"{image_id}: {error}")
                continue
        for sentence in ref["sentences"]:
            text = sanitize_text(sentence.get("sent") or sentence.get("raw", ""))
            if not text:
                report.skip("empty sentence", str(sentence.get("sent_id")))
                continue
            yield [
                str(sentence["sent_id"]),
                str(image_id),
                text,
                format_box((x0, y0, x1, y1)),
                cache[image_id],
            ]


def convert(
    refs_pickle: str,
    instances_json: str,
    image_dir: str,
    out_dir: str,
    splits: tuple[str, ...] | None = None,
    **kwargs,
) -> ConversionReport:
    """Write ``refcoco_{split}.tsv`` for ``splits`` (default: every split in the refs)."""
    refs = load_refs(refs_pickle)
    instances = load_json(instances_json)
    report = ConversionReport()
    for split in splits or sorted({r["split"] for r in refs}):
        path = os.path.join(out_dir, f"refcoco_{split}.tsv")
        report.written[path] = write_tsv(
            path, refcoco_rows(refs, instances, split, image_dir, report=report, **kwargs)
        )
    return report
