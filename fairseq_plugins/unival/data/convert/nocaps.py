"""NoCaps validation JSON -> ``caption`` TSVs for zero-shot evaluation.

Input: ``nocaps_val_4500_captions.json`` layout: ``images`` (``id``, ``file_name``, ``domain``
in "in-domain" / "near-domain" / "out-domain") and ``annotations`` (``image_id``, ``caption``;
10 per image). Output in ``out_dir`` (``split`` = "val"):

* ``nocaps_{split}.tsv`` and ``nocaps_{indomain,neardomain,outdomain}_{split}.tsv``: one row
  per image (uniq_id = image_id = the NoCaps id, references pre_caption'd and "&&"-joined,
  empty object labels, image base64 or relative path); evaluate with ``--selected-cols 1,4,2``;
* ``nocaps_{split}_domains.json``: ``{image_id: domain}`` for ``unival eval --domains``
  (CIDEr-D / BLEU-4 per domain in one run);
* ``nocaps_{split}_caption_coco_format.json``: the references in COCO caption format.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict

from unival.data.convert.common import (
    ConversionReport,
    image_field,
    load_json,
    sanitize_text,
    write_tsv,
)
from unival.data.text import pre_caption

DOMAINS = ("in-domain", "near-domain", "out-domain")


def domain_file_tag(domain: str) -> str:
    """ "in-domain" -> "indomain" (the file-name form)."""
    return domain.replace("-", "")


def convert(
    captions_json: str, image_dir: str, out_dir: str, split: str = "val", image_paths: bool = False
) -> ConversionReport:
    """Write the files of the module docstring; returns the report (skips are counted)."""
    payload = load_json(captions_json)
    report = ConversionReport()
    refs = defaultdict(list)
    for annotation in payload["annotations"]:
        text = pre_caption(sanitize_text(annotation["caption"]))
        if text:
            refs[annotation["image_id"]].append(text.replace("&&", " "))
    rows = {domain: [] for domain in DOMAINS}
    domains, coco_images, coco_annotations = {}, [], []
    for image in payload["images"]:
        image_id, domain = image["id"], image.get("domain")
        if domain not in DOMAINS:
            raise ValueError(
                f"{captions_json}: image {image_id} has domain {domain!r}, "
                f"expected one of {DOMAINS}"
            )
        if not refs[image_id]:
            report.skip("image without captions", str(image_id))
            continue
        try:
            field = image_field(
                os.path.join(image_dir, image["file_name"]),
                image["file_name"] if image_paths else None,
            )
        except ValueError as error:
            report.skip("bad image", f"{image_id}: {error}")
            continue
        rows[domain].append([str(image_id), str(image_id), "&&".join(refs[image_id]), "", field])
        domains[str(image_id)] = domain
        coco_images.append({"id": image_id, "file_name": image["file_name"], "domain": domain})
        coco_annotations += [
            {"image_id": image_id, "id": len(coco_annotations) + k, "caption": c}
            for k, c in enumerate(refs[image_id])
        ]
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"nocaps_{split}.tsv")
    report.written[path] = write_tsv(path, [r for d in DOMAINS for r in rows[d]])
    for domain in DOMAINS:
        path = os.path.join(out_dir, f"nocaps_{domain_file_tag(domain)}_{split}.tsv")
        report.written[path] = write_tsv(path, rows[domain])
    with open(os.path.join(out_dir, f"nocaps_{split}_domains.json"), "w", encoding="utf-8") as f:
        json.dump(domains, f, indent=1)
    with open(
        os.path.join(out_dir, f"nocaps_{split}_caption_coco_format.json"), "w", encoding="utf-8"
    ) as f:
        json.dump({"images": coco_images, "annotations": coco_annotations}, f)
    return report
