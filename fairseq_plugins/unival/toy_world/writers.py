"""Writers of the toy world's files: caption TSVs (official layout), scene JSON, dict.txt."""
from __future__ import annotations

import json
import logging
import os
from typing import Iterable, Sequence

from unival.data.schemas import CAPTION
from unival.toy_world.scene import COLORS, SHAPES, SIZES, Scene

logger = logging.getLogger(__name__)

LABEL_SEPARATOR = "&&"


def write_tsv(path: str | os.PathLike, rows: Iterable[Sequence[str]]) -> int:
    """Write tab-separated rows (one per line); returns the row count."""
    count = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            for value in row:
                if "\t" in value or "\n" in value:
                    raise ValueError(f"a TSV field holds a tab or newline: {value[:40]!r}")
            f.write("\t".join(row) + "\n")
            count += 1
    return count


def caption_rows(split: str, scenes: Sequence[Scene], captions: Sequence[list[str]],
                 labels: Sequence[list[str]], images_b64: Sequence[str]) -> list[list[str]]:
    """Rows in the official caption layout (``CAPTION.columns``).

    train: one row per caption, ``uniq_id`` = ``<image_id>_<k>``; valid/test: one row per
    image with the captions "&&"-joined as references, ``uniq_id`` = image_id.
    """
    assert CAPTION.columns == ("uniq_id", "image_id", "caption", "object_labels", "image")
    rows = []
    for scene, refs, objs, image in zip(scenes, captions, labels, images_b64):
        image_id = str(scene.scene_id)
        label_field = LABEL_SEPARATOR.join(objs)
        if split == "train":
            rows += [[f"{image_id}_{k}", image_id, ref, label_field, image]
                     for k, ref in enumerate(refs)]
        else:
            rows.append([image_id, image_id, LABEL_SEPARATOR.join(refs), label_field, image])
    return rows


def write_scenes_json(path: str | os.PathLike, split: str, seed: int, image_size: int,
                      scenes: Sequence[Scene], captions: Sequence[list[str]]) -> None:
    """The split's ground truth: attribute vocabulary + every scene with its captions."""
    payload = {
        "split": split,
        "seed": seed,
        "image_size": image_size,
        "box_format": "x0,y0,x1,y1 pixels, end-exclusive",
        "attributes": {"shapes": list(SHAPES), "colors": COLORS, "sizes": SIZES},
        "scenes": [dict(scene.to_dict(), image_id=str(scene.scene_id), captions=list(refs))
                   for scene, refs in zip(scenes, captions)],
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=1)
        f.write("\n")


def load_scenes_json(path: str | os.PathLike) -> tuple[list[Scene], list[list[str]]]:
    """Scenes and their captions back from :func:`write_scenes_json`."""
    with open(path, encoding="utf-8") as f:
        payload = json.load(f)
    scenes = [Scene.from_dict(s) for s in payload["scenes"]]
    return scenes, [list(s["captions"]) for s in payload["scenes"]]
