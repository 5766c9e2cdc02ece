"""make_refcoco_tsv on a tiny refs(unc).p + instances.json sample with real JPEGs."""

import json
import pickle

from converter_helpers import b64_bytes, read_rows


def _sample(tmp_path, make_jpeg):
    image_dir = tmp_path / "train2014"
    raw = {i: make_jpeg(image_dir / f"COCO_train2014_{i:012d}.jpg", size=(40, 30)) for i in (5, 6)}
    instances = {
        "images": [
            {"id": 5, "file_name": "COCO_train2014_000000000005.jpg", "width": 40, "height": 30},
            {"id": 6, "file_name": "COCO_train2014_000000000006.jpg", "width": 40, "height": 30},
        ],
        "annotations": [
            {"id": 50, "image_id": 5, "bbox": [1.5, 2.25, 10, 20.333]},
            {"id": 60, "image_id": 6, "bbox": [0, 0, 40, 30]},
            {"id": 61, "image_id": 6, "bbox": [3, 3, 0, 5]},
        ],
        "categories": [{"id": 1, "name": "thing"}],
    }
    refs = [
        {
            "ref_id": 0,
            "ann_id": 50,
            "image_id": 5,
            "split": "train",
            "category_id": 1,
            "file_name": "COCO_train2014_000000000005_50.jpg",
            "sent_ids": [100, 101],
            "sentences": [
                {"sent_id": 100, "sent": "left man", "raw": "Left man.", "tokens": []},
                {"sent_id": 101, "sent": "guy in red", "raw": "guy in red"},
            ],
        },
        {
            "ref_id": 1,
            "ann_id": 60,
            "image_id": 6,
            "split": "testA",
            "category_id": 1,
            "sentences": [{"sent_id": 102, "sent": "whole picture"}],
        },
        {
            "ref_id": 2,
            "ann_id": 61,
            "image_id": 6,
            "split": "testA",
            "category_id": 1,
            "sentences": [{"sent_id": 103, "sent": "a line"}],
        },
    ]
    (tmp_path / "refs(unc).p").write_bytes(pickle.dumps(refs))
    (tmp_path / "instances.json").write_text(json.dumps(instances))
    return image_dir, raw


def test_refs_to_refcoco_tsvs(tmp_path, make_jpeg, load_script):
    image_dir, raw = _sample(tmp_path, make_jpeg)
    out = tmp_path / "out"
    script = load_script("make_refcoco_tsv")
    assert (
        script.main(
            [
                "--refs",
                str(tmp_path / "refs(unc).p"),
                "--instances",
                str(tmp_path / "instances.json"),
                "--image-dir",
                str(image_dir),
                "--out-dir",
                str(out),
            ]
        )
        == 0
    )
    train = read_rows(out / "refcoco_train.tsv")
    # xywh (1.5, 2.25, 10, 20.333) -> x1 = 11.5, y1 = 22.583 -> two decimals
    assert [r[:4] for r in train] == [
        ["100", "5", "left man", "1.5,2.25,11.5,22.58"],
        ["101", "5", "guy in red", "1.5,2.25,11.5,22.58"],
    ]
    assert b64_bytes(train[0][4]) == raw[5]
    test_a = read_rows(out / "refcoco_testA.tsv")
    assert [r[:4] for r in test_a] == [["102", "6", "whole picture", "0,0,40,30"]]  # 61: w = 0
    validate = load_script("validate_tsv")
    assert (
        validate.main(
            ["--task", "refcoco", str(out / "refcoco_train.tsv"), str(out / "refcoco_testA.tsv")]
        )
        == 0
    )
