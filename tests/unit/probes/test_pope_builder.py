"""POPE probe sets: negatives per strategy on a hand-made COCO ground truth, written files."""

import base64
import io
import json

from PIL import Image

from unival.probes.ground_truth import coco_ground_truth
from unival.probes.pope import build_pope, labels_path_for, pope_items, score_pope_records


def _coco():
    # image 1 {dog, person}, 2 {dog, frisbee, person}, 3 {cat, couch}, 4 {person}, 5 {} (no probe)
    cats = {"person": 1, "dog": 18, "frisbee": 34, "cat": 17, "couch": 63}
    objects = {
        1: ["dog", "person"],
        2: ["dog", "frisbee", "person"],
        3: ["cat", "couch"],
        4: ["person"],
        5: [],
    }
    return {
        "images": [{"id": i, "file_name": f"{i}.png"} for i in objects],
        "categories": [{"id": v, "name": k} for k, v in cats.items()],
        "annotations": [
            {"image_id": i, "category_id": cats[o]} for i, objs in objects.items() for o in objs
        ],
    }


def _negatives(items, image_id):
    return [i["object"] for i in items if i["image_id"] == image_id and i["label"] == "no"]


def test_strategies_pick_the_hand_computed_negatives():
    gt = coco_ground_truth(_coco())
    popular, adversarial, random_ = (
        pope_items(gt, s, per_image=3) for s in ("popular", "adversarial", "random")
    )
    # image frequency: person 3, dog 2, frisbee/cat/couch 1 (others 0, ties by name)
    assert _negatives(popular, 1) == ["cat", "couch"]
    assert _negatives(popular, 3) == ["person", "dog"]
    assert _negatives(popular, 4) == ["dog"]
    # co-occurrence with image 1's dog+person: frisbee 1 + 1 = 2; then by popularity: cat, couch
    assert _negatives(adversarial, 1) == ["frisbee", "cat"]
    assert _negatives(adversarial, 4) == ["dog"]  # dog-person 2 > frisbee-person 1
    for items in (popular, adversarial, random_):
        assert {i["image_id"] for i in items} == {1, 2, 3, 4}  # image 5 has no object
        for image_id in (1, 2, 3, 4):
            yes = [i["object"] for i in items if i["image_id"] == image_id and i["label"] == "yes"]
            no = _negatives(items, image_id)
            assert (
                len(yes) == len(no)
                and set(yes) <= gt.objects[image_id]
                and not set(no) & gt.objects[image_id]
            )
    assert [i for i in popular if i["label"] == "yes"] == [
        i for i in random_ if i["label"] == "yes"
    ]


def test_build_pope_writes_vqa_rows_and_labels(tmp_path):
    for i in range(1, 6):
        Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(tmp_path / f"{i}.png")
    gt = coco_ground_truth(_coco())
    summary = build_pope(
        gt, tmp_path / "out", ["adversarial"], per_image=3, image_dir=str(tmp_path)
    )
    tsv = summary["adversarial"]["tsv"]
    rows = [line.split("\t") for line in open(tsv).read().splitlines()]
    labels = json.load(open(labels_path_for(tsv)))
    assert len(rows) == summary["adversarial"]["n"] == 2 * (2 + 3 + 2 + 1)
    for qid, image_id, question, answers, objects, image in rows:
        label = labels[qid]
        assert (
            question == f"is there a {label['object']} in the image?"
            and answers == f"1.0|!+{label['label']}"
        )
        assert int(image_id) == label["image_id"] and objects == ""
        pixel = Image.open(io.BytesIO(base64.urlsafe_b64decode(image))).getpixel((0, 0))
        assert pixel[0] == int(image_id) * 40
    records = [{"question_id": int(q), "answer": "yes"} for q in labels]  # always yes
    scores = score_pope_records(records, labels)
    assert scores["yes_ratio"] == 1.0 and scores["recall"] == 1.0 and scores["accuracy"] == 0.5
