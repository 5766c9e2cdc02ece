"""Zero-shot converters on tiny samples in the public formats: NoCaps, VizWiz, OK-VQA."""

import json
import pickle

from converter_helpers import b64_bytes, read_rows


def test_nocaps_tsvs_per_domain(tmp_path, make_jpeg, load_script):
    images = tmp_path / "nocaps_val"
    raw = {i: make_jpeg(images / f"{i:04x}.jpg", colour=(i * 30, 0, 0)) for i in range(4)}
    payload = {
        "licenses": [],
        "info": {},
        "images": [
            {
                "id": i,
                "file_name": f"{i:04x}.jpg",
                "open_images_id": f"x{i}",
                "height": 12,
                "width": 20,
                "domain": d,
            }
            for i, d in enumerate(["in-domain", "out-domain", "near-domain", "in-domain"])
        ],
        "annotations": [
            {"image_id": i, "id": 10 * i + k, "caption": f"A Dog, number {i}-{k}."}
            for i in range(4)
            for k in range(2)
        ],
    }
    payload["annotations"] = [
        a for a in payload["annotations"] if a["image_id"] != 3
    ]  # image 3: no captions
    (tmp_path / "nocaps.json").write_text(json.dumps(payload))
    out = tmp_path / "out"
    assert (
        load_script("make_nocaps_tsv").main(
            [
                "--captions",
                str(tmp_path / "nocaps.json"),
                "--image-dir",
                str(images),
                "--out-dir",
                str(out),
            ]
        )
        == 0
    )
    rows = read_rows(out / "nocaps_val.tsv")
    assert [r[0] for r in rows] == ["0", "2", "1"]  # in-, near-, out-domain order; image 3 skipped
    assert rows[0][:4] == ["0", "0", "a dog, number 0 0.&&a dog, number 0 1.", ""]
    assert b64_bytes(rows[0][4]) == raw[0]
    assert [r[0] for r in read_rows(out / "nocaps_outdomain_val.tsv")] == ["1"]
    assert [r[0] for r in read_rows(out / "nocaps_neardomain_val.tsv")] == ["2"]
    assert json.loads((out / "nocaps_val_domains.json").read_text()) == {
        "0": "in-domain",
        "2": "near-domain",
        "1": "out-domain",
    }
    coco = json.loads((out / "nocaps_val_caption_coco_format.json").read_text())
    assert len(coco["images"]) == 3 and len(coco["annotations"]) == 6


def test_vizwiz_tsv_soft_scores_and_candidates(tmp_path, make_jpeg, load_script):
    images = tmp_path / "val"
    raw = make_jpeg(images / "VizWiz_val_00000000.jpg")
    make_jpeg(images / "VizWiz_val_00000001.jpg")
    entries = [
        {
            "image": "VizWiz_val_00000000.jpg",
            "question": "What is this?\n",
            "answerable": 1,
            "answer_type": "other",
            "answers": [
                {"answer": a, "answer_confidence": "yes"}
                for a in ["soup"] * 4 + ["Soup."] * 2 + ["tomato soup"] * 2 + ["unanswerable"] * 2
            ],
        },
        {
            "image": "VizWiz_val_00000001.jpg",
            "question": "Test question?",
            "answerable": 1,
        },  # test split: no answers
    ]
    (tmp_path / "val.json").write_text(json.dumps(entries))
    assert (
        load_script("make_vizwiz_tsv").main(
            [
                "--annotations",
                str(tmp_path / "val.json"),
                "--image-dir",
                str(images),
                "--out",
                str(tmp_path / "v.tsv"),
                "--out-ans2label",
                str(tmp_path / "a.pkl"),
            ]
        )
        == 0
    )
    rows = read_rows(tmp_path / "v.tsv")
    assert len(rows) == 1
    # soup: 6 of 10 annotators -> 1.0; tomato soup, unanswerable: 2 of 10 -> 0.6
    assert rows[0][:5] == [
        "0",
        "VizWiz_val_00000000",
        "What is this?",
        "1.0|!+soup&&0.6|!+tomato soup&&0.6|!+unanswerable",
        "",
    ]
    assert b64_bytes(rows[0][5]) == raw
    with open(tmp_path / "a.pkl", "rb") as f:
        assert pickle.load(f) == {"soup": 0, "tomato soup": 1, "unanswerable": 2}


def test_okvqa_tsv_keeps_every_answer(tmp_path, make_jpeg, load_script):
    images = tmp_path / "val2014"
    raw = make_jpeg(images / "COCO_val2014_000000000042.jpg")
    questions = {
        "data_subtype": "val2014",
        "questions": [
            {"image_id": 42, "question": "What sport can you use this for?", "question_id": 420}
        ],
    }
    answers = ["racing"] * 6 + ["motocross"] * 4
    annotations = {
        "annotations": [
            {
                "image_id": 42,
                "question_id": 420,
                "question_type": "one",
                "answer_type": "other",
                "confidence": 3,
                "answers": [
                    {"answer_id": k + 1, "raw_answer": a, "answer": a, "answer_confidence": "yes"}
                    for k, a in enumerate(answers)
                ],
            }
        ]
    }
    (tmp_path / "q.json").write_text(json.dumps(questions))
    (tmp_path / "a.json").write_text(json.dumps(annotations))
    assert (
        load_script("make_okvqa_tsv").main(
            [
                "--questions",
                str(tmp_path / "q.json"),
                "--annotations",
                str(tmp_path / "a.json"),
                "--image-dir",
                str(images),
                "--out",
                str(tmp_path / "ok.tsv"),
            ]
        )
        == 0
    )
    rows = read_rows(tmp_path / "ok.tsv")
    assert rows[0][:5] == [
        "420",
        "42",
        "What sport can you use this for?",
        "1.0|!+motocross&&1.0|!+racing",
        "",
    ]
    assert b64_bytes(rows[0][5]) == raw
