"""Write the complex-instruction probe suite: grounding and VQA TSVs with category side files.

Scenes come from a toy-world ``scenes_*.json`` or are sampled here (:func:`sample_probe_scene`:
3-4 shapes, often two of the same colour and shape, so the "one among similar ones" items
exist). Items: :mod:`unival.probes.complex_items`. Files under ``out_dir``:

* ``probe_refcoco.tsv`` (refcoco layout: uniq_id, image_id, text, "x0,y0,x1,y1", image;
  ``--selected-cols 0,4,2,3``) and ``probe_refcoco.categories.json``
  (``{uniq_id: {"category", "text", "box"}}``);
* ``probe_vqa.tsv`` (vqa_gen layout: question_id, image_id, question, "1.0|!+answer", object
  labels, image; ``--selected-cols 0,5,2,3,4``) and ``probe_vqa.categories.json``
  (``{question_id: {"category", "question", "answer"}}``);
* ``probe_answers.txt`` (the VQA candidate answers), ``probe_scenes.json`` (the scenes, in
  the toy world's scenes layout) and ``probe_summary.json`` (item counts per category).

Row ids are ``image_id * 100 + k``.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections import Counter
from typing import Dict, List, Optional, Sequence

from unival.data.convert.common import write_tsv
from unival.data.io.image import encode_image_base64
from unival.probes.complex_items import grounding_items, probe_answers, vqa_items
from unival.toy_world.captions import object_labels
from unival.toy_world.render import render_scene
from unival.toy_world.scene import (
    COLORS,
    SHAPES,
    SIZES,
    Scene,
    layout_is_unambiguous,
    place_objects,
)

logger = logging.getLogger(__name__)

TWIN_PROBABILITY = 0.7
_MAX_TRIES = 2000


def sample_probe_scene(rng: random.Random, scene_id: int, image_size: int = 64) -> Scene:
    """3-4 non-overlapping shapes (the toy world's placement rules); with probability
    ``TWIN_PROBABILITY`` the second shares the first one's colour and shape."""
    for _ in range(_MAX_TRIES):
        count = rng.choice((3, 4))
        triples = [
            (
                rng.choice(SHAPES),
                rng.choice(list(COLORS)),
                "small" if count == 4 else rng.choice(list(SIZES)),
            )
            for _ in range(count)
        ]
        if rng.random() < TWIN_PROBABILITY:
            triples[1] = (triples[0][0], triples[0][1], triples[1][2])
        objects = place_objects(rng, triples, image_size)
        if objects is not None and layout_is_unambiguous(objects, image_size):
            objects.sort(key=lambda o: o.center[0])
            return Scene(scene_id, image_size, objects)
    raise RuntimeError(f"could not place a probe scene in {_MAX_TRIES} tries at size {image_size}")


def sample_probe_scenes(
    count: int, seed: int = 0, image_size: int = 64, first_id: int = 0
) -> List[Scene]:
    rng = random.Random(f"unival-probe/{seed}")
    return [sample_probe_scene(rng, first_id + i, image_size) for i in range(count)]


def load_scenes(path: str | os.PathLike) -> List[Scene]:
    with open(path, encoding="utf-8") as f:
        payload = json.load(f)
    if "scenes" not in payload:
        raise ValueError(f"{path}: not a toy-world scenes JSON (no 'scenes')")
    return [Scene.from_dict(s) for s in payload["scenes"]]


def _box(scene: Scene, index: int) -> List[int]:
    return [int(v) for v in scene.objects[index].box]


def probe_records(scenes: Sequence[Scene]) -> Dict[str, List[dict]]:
    """``{"grounding": [...], "vqa": [...]}``: every item as a dict with its row id, image id,
    category, text and ground truth (box or answer). No images."""
    out: Dict[str, List[dict]] = {"grounding": [], "vqa": []}
    for scene in scenes:
        items = grounding_items(scene) + vqa_items(scene)
        if len(items) > 100:
            raise ValueError(
                f"scene {scene.scene_id}: {len(items)} items do not fit image_id * 100 + k ids"
            )
        for k, item in enumerate(items):
            record = {
                "id": scene.scene_id * 100 + k,
                "image_id": scene.scene_id,
                "category": item.category,
                "text": item.text,
            }
            if item.kind == "grounding":
                record["box"] = _box(scene, item.target)
            else:
                record["answer"] = item.answer
            out[item.kind].append(record)
    return out


def build_probe_suite(
    out_dir: str | os.PathLike,
    scenes: Optional[Sequence[Scene]] = None,
    scenes_json: Optional[str] = None,
    num_scenes: int = 100,
    seed: int = 0,
    image_size: int = 64,
) -> dict:
    """Write the files of the module docstring; returns the summary (also in probe_summary.json).
    Scenes: ``scenes``, else those of ``scenes_json``, else ``num_scenes`` sampled ones."""

    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    if scenes is None:
        scenes = (
            load_scenes(scenes_json)
            if scenes_json
            else sample_probe_scenes(num_scenes, seed, image_size)
        )
    records = probe_records(scenes)
    by_id = {s.scene_id: s for s in scenes}
    images = {s.scene_id: encode_image_base64(render_scene(s)) for s in scenes}
    refcoco_rows = [
        [
            str(r["id"]),
            str(r["image_id"]),
            r["text"],
            ",".join(map(str, r["box"])),
            images[r["image_id"]],
        ]
        for r in records["grounding"]
    ]
    vqa_rows = [
        [
            str(r["id"]),
            str(r["image_id"]),
            r["text"],
            f"1.0|!+{r['answer']}",
            "&&".join(object_labels(by_id[r["image_id"]])),
            images[r["image_id"]],
        ]
        for r in records["vqa"]
    ]
    write_tsv(os.path.join(out_dir, "probe_refcoco.tsv"), refcoco_rows)
    write_tsv(os.path.join(out_dir, "probe_vqa.tsv"), vqa_rows)
    sides = {
        "probe_refcoco.categories.json": {
            str(r["id"]): {"category": r["category"], "text": r["text"], "box": r["box"]}
            for r in records["grounding"]
        },
        "probe_vqa.categories.json": {
            str(r["id"]): {"category": r["category"], "question": r["text"], "answer": r["answer"]}
            for r in records["vqa"]
        },
        "probe_scenes.json": {
            "image_size": scenes[0].image_size if scenes else image_size,
            "scenes": [dict(s.to_dict(), image_id=str(s.scene_id)) for s in scenes],
        },
    }
    for name, payload in sides.items():
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=1)
    with open(os.path.join(out_dir, "probe_answers.txt"), "w", encoding="utf-8") as f:
        f.writelines(a + "\n" for a in probe_answers())
    summary = {
        "scenes": len(scenes),
        "out_dir": out_dir,
        "grounding": dict(sorted(Counter(r["category"] for r in records["grounding"]).items())),
        "vqa": dict(sorted(Counter(r["category"] for r in records["vqa"]).items())),
    }
    with open(os.path.join(out_dir, "probe_summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    logger.info("probe suite in %s: %s", out_dir, summary)
    return summary
