"""make_coco_caption_tsv on a tiny Karpathy-format sample with real JPEGs."""

import json

from converter_helpers import b64_bytes, read_rows


def _karpathy(tmp_path, make_jpeg):
    raw = {}
    for cocoid, folder in ((9, "train2014"), (25, "val2014"), (30, "val2014"), (31, "val2014")):
        name = f"COCO_{folder}_{cocoid:012d}.jpg"
        raw[cocoid] = make_jpeg(tmp_path / "coco" / folder / name, colour=(cocoid, 0, 0))

    def entry(cocoid, folder, split, sentences):
        return {
            "filepath": folder,
            "filename": f"COCO_{folder}_{cocoid:012d}.jpg",
            "imgid": cocoid + 1000,
            "cocoid": cocoid,
            "split": split,
            "sentences": sentences,
        }

    dataset = {
        "dataset": "coco",
        "images": [
            entry(
                9,
                "train2014",
                "train",
                [
                    {
                        "tokens": ["a", "cat", "on", "a", "mat"],
                        "raw": "A cat on a mat.",
                        "sentid": 1,
                    },
                    {"tokens": [], "raw": "", "sentid": 8},  # empty: dropped, the next keeps its id
                    {"tokens": ["two", "cats"], "raw": "Two cats!", "sentid": 2},
                ],
            ),
            entry(
                25, "val2014", "restval", [{"tokens": ["a", "dog"], "raw": "A dog", "sentid": 3}]
            ),
            entry(
                30,
                "val2014",
                "test",
                [
                    {"tokens": ["a", "red", "bus"], "raw": "A red bus.", "sentid": 4},
                    {"tokens": [], "raw": "The Bus, parked.", "sentid": 5},
                ],
            ),
            entry(31, "val2014", "val", [{"tokens": ["a", "tree"], "raw": "a tree", "sentid": 6}]),
            entry(32, "val2014", "val", [{"tokens": ["no", "file"], "raw": "", "sentid": 7}]),
        ],
    }
    path = tmp_path / "dataset_coco.json"
    path.write_text(json.dumps(dataset))
    return path, raw


def test_karpathy_splits_to_caption_tsvs(tmp_path, make_jpeg, load_script):
    dataset_json, raw = _karpathy(tmp_path, make_jpeg)
    out = tmp_path / "out"
    script = load_script("make_coco_caption_tsv")
    assert (
        script.main(
            [
                "--dataset-json",
                str(dataset_json),
                "--image-dir",
                str(tmp_path / "coco"),
                "--out-dir",
                str(out),
            ]
        )
        == 0
    )
    train = read_rows(out / "caption_train.tsv")
    # restval joins train; one row per caption, uniq_id = sentence id
    assert [r[:4] for r in train] == [
        ["1", "9", "a cat on a mat", ""],
        ["2", "9", "two cats", ""],
        ["3", "25", "a dog", ""],
    ]
    assert b64_bytes(train[0][4]) == raw[9] and b64_bytes(train[2][4]) == raw[25]
    test = read_rows(out / "caption_test.tsv")
    # one row per image, references joined; missing tokens -> pre_caption(raw)
    assert [r[:4] for r in test] == [["30", "30", "a red bus&&the bus, parked.", ""]]
    val = read_rows(out / "caption_val.tsv")
    assert [r[0] for r in val] == ["31"]  # image 32 has no file: skipped
    gt = json.loads((out / "caption_test_gt.json").read_text())
    assert gt["images"] == [{"id": 30}]
    assert [a["caption"] for a in gt["annotations"]] == ["a red bus", "the bus, parked."]
    validate = load_script("validate_tsv")
    files = [str(out / f"caption_{s}.tsv") for s in ("train", "val", "test")]
    assert validate.main(["--task", "caption"] + files) == 0


def test_no_restval_and_image_paths(tmp_path, make_jpeg, load_script):
    dataset_json, _ = _karpathy(tmp_path, make_jpeg)
    out = tmp_path / "out"
    script = load_script("make_coco_caption_tsv")
    assert (
        script.main(
            [
                "--dataset-json",
                str(dataset_json),
                "--image-dir",
                str(tmp_path / "coco"),
                "--out-dir",
                str(out),
                "--splits",
                "train",
                "--no-restval",
                "--image-paths",
            ]
        )
        == 0
    )
    train = read_rows(out / "caption_train.tsv")
    assert [r[0] for r in train] == ["1", "2"]
    assert train[0][4] == "train2014/COCO_train2014_000000000009.jpg"
    assert not (out / "caption_val.tsv").exists()
