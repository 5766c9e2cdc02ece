"""Toy-world pretraining rows (``unify_task``) and the negative-sample directory.

Row layout (8 columns): uniq_id, image path, caption, question, refs, gt_objects,
dataset_name, type. Images are paths relative to the toy-world root (``images/<id>.png``):
train with ``--image-dir <root> --read-from-img-path``.

Per scene: one ``caption`` row per caption (gt_objects = the colour+shape phrases the
caption mentions, which ``object.txt`` can replace for image-text-matching negatives), one
``qa`` row per question (refs "1.0|!+answer") and one ``visual_grounding`` row per referring
expression (caption = the expression, refs = "x0,y0,x1,y1").
"""

from __future__ import annotations

import json
import os
from typing import Sequence

from unival.toy_world.questions import ANSWER_TYPES, OBJECT_ANSWERS, Question
from unival.toy_world.referring import Expression, box_field
from unival.toy_world.scene import Scene

PRETRAIN_COLUMNS = (
    "uniq_id",
    "image",
    "caption",
    "question",
    "refs",
    "gt_objects",
    "dataset_name",
    "type",
)
IMAGE_DIR = "images"
NEGATIVE_SAMPLE_DIR = "negative_sample"


def image_path(scene: Scene) -> str:
    """Path of the scene's image relative to the toy-world root."""
    return f"{IMAGE_DIR}/{scene.scene_id}.png"


def mentioned_objects(text: str) -> list[str]:
    """The colour+shape phrases (``object.txt`` entries) occurring in ``text``."""
    return [o for o in OBJECT_ANSWERS if o in text]


def scene_pretrain_rows(
    scene: Scene,
    captions: Sequence[str],
    questions: Sequence[Question],
    expressions: Sequence[Expression],
) -> list[list[str]]:
    """The scene's rows (uniq_id left empty: :func:`number_rows` fills it)."""
    path = image_path(scene)
    rows = [
        ["", path, c, "", "", "&&".join(mentioned_objects(c)), "toy_caption", "caption"]
        for c in captions
    ]
    rows += [
        ["", path, "", q.question, f"1.0|!+{q.answer}", "&&".join(q.objects), "toy_vqa", "qa"]
        for q in questions
    ]
    rows += [
        [
            "",
            path,
            e.text,
            "",
            box_field(scene.objects[e.target]),
            "&&".join(mentioned_objects(e.text)),
            "toy_refcoco",
            "visual_grounding",
        ]
        for e in expressions
    ]
    return rows


def number_rows(rows: list[list[str]], first_id: int = 0) -> list[list[str]]:
    """Set uniq_id to consecutive integers (in place); returns ``rows``."""
    for k, row in enumerate(rows):
        row[0] = str(first_id + k)
    return rows


def write_negative_samples(root: str | os.PathLike, train_captions: Sequence[str]) -> str:
    """Write ``negative_sample/{all_captions.txt, object.txt, type2ans.json}``; returns the
    directory. Every answer type lists at least two answers (a negative differs from the
    true one)."""
    out = os.path.join(root, NEGATIVE_SAMPLE_DIR)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "all_captions.txt"), "w", encoding="utf-8") as f:
        f.writelines(c + "\n" for c in train_captions)
    with open(os.path.join(out, "object.txt"), "w", encoding="utf-8") as f:
        f.writelines(o + "\n" for o in OBJECT_ANSWERS)
    with open(os.path.join(out, "type2ans.json"), "w", encoding="utf-8") as f:
        json.dump(ANSWER_TYPES, f, indent=1)
        f.write("\n")
    return out
