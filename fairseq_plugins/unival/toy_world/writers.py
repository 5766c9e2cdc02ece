"""Writers of the toy world's files: task TSVs (official layouts), scene JSON, answer files."""

from __future__ import annotations

import json
import logging
import os
import pickle
from typing import Sequence

from unival.data.convert.common import write_tsv  # noqa: F401 (re-exported for build/media)
from unival.data.schemas import CAPTION
from unival.toy_world.referring import box_field
from unival.toy_world.scene import COLORS, SHAPES, SIZES, Scene

logger = logging.getLogger(__name__)

LABEL_SEPARATOR = "&&"


def caption_rows(
    split: str,
    scenes: Sequence[Scene],
    captions: Sequence[list[str]],
    labels: Sequence[list[str]],
    images_b64: Sequence[str],
) -> list[list[str]]:
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
            rows += [
                [f"{image_id}_{k}", image_id, ref, label_field, image] for k, ref in enumerate(refs)
            ]
        else:
            rows.append([image_id, image_id, LABEL_SEPARATOR.join(refs), label_field, image])
    return rows


def write_scenes_json(
    path: str | os.PathLike,
    split: str,
    seed: int,
    image_size: int,
    scenes: Sequence[Scene],
    captions: Sequence[list[str]],
) -> None:
    """The split's ground truth: attribute vocabulary + every scene with its captions."""
    payload = {
        "split": split,
        "seed": seed,
        "image_size": image_size,
        "box_format": "x0,y0,x1,y1 pixels, end-exclusive",
        "attributes": {"shapes": list(SHAPES), "colors": COLORS, "sizes": SIZES},
        "scenes": [
            dict(scene.to_dict(), image_id=str(scene.scene_id), captions=list(refs))
            for scene, refs in zip(scenes, captions)
        ],
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


def vqa_rows(scene: Scene, questions: Sequence, labels: list[str], image: str) -> list[list[str]]:
    """Rows in the official ``vqa_gen`` layout: question_id (= image_id * 10 + k), image_id,
    question, "1.0|!+answer", object labels ("&&"), image base64."""
    return [
        [
            str(scene.scene_id * 10 + k),
            str(scene.scene_id),
            q.question,
            f"1.0|!+{q.answer}",
            LABEL_SEPARATOR.join(labels),
            image,
        ]
        for k, q in enumerate(questions)
    ]


def refcoco_rows(scene: Scene, expressions: Sequence, image: str) -> list[list[str]]:
    """Rows in the official ``refcoco`` layout: uniq_id (= image_id * 10 + k), image_id,
    text, "x0,y0,x1,y1" (pixels), image base64."""
    return [
        [
            str(scene.scene_id * 10 + k),
            str(scene.scene_id),
            e.text,
            box_field(scene.objects[e.target]),
            image,
        ]
        for k, e in enumerate(expressions)
    ]


def snli_ve_rows(scene: Scene, hypotheses: Sequence, premise: str, image: str) -> list[list[str]]:
    """Rows in the official ``snli_ve`` layout: uniq_id (= image_id * 10 + k), image_id,
    image base64, hypothesis, premise caption, label."""
    return [
        [str(scene.scene_id * 10 + k), str(scene.scene_id), image, h.text, premise, h.label]
        for k, h in enumerate(hypotheses)
    ]


def write_answer_candidates(out_dir: str | os.PathLike, answers: Sequence[str]) -> None:
    """``vqa_answers.txt`` (one per line) and ``vqa_ans2label.pkl`` (answer -> index)."""
    with open(os.path.join(out_dir, "vqa_answers.txt"), "w", encoding="utf-8") as f:
        f.writelines(a + "\n" for a in answers)
    with open(os.path.join(out_dir, "vqa_ans2label.pkl"), "wb") as f:
        pickle.dump({a: i for i, a in enumerate(answers)}, f, protocol=4)
