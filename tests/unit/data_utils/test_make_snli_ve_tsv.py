"""make_snli_ve_tsv on a tiny SNLI-VE JSONL sample with real Flickr30k-named JPEGs."""

import json

from converter_helpers import b64_bytes, read_rows


def test_jsonl_to_snli_ve_tsv(tmp_path, make_jpeg, load_script):
    image_dir = tmp_path / "flickr30k_images"
    raw = make_jpeg(image_dir / "3416050480.jpg")
    records = [
        {
            "Flickr30K_ID": "3416050480",
            "pairID": "3416050480.jpg#4r1e",
            "gold_label": "entailment",
            "sentence1": "A man\tin a hat.",
            "sentence2": "A person is outdoors.",
        },
        {
            "Flickr30K_ID": "3416050480",
            "pairID": "3416050480.jpg#4r1n",
            "gold_label": "-",
            "sentence1": "A man in a hat.",
            "sentence2": "The man is sad.",
        },
        {
            "Flickr30K_ID": "3416050480",
            "pairID": "3416050480.jpg#4r1c",
            "gold_label": "contradiction",
            "sentence1": "A man in a hat.",
            "sentence2": "Nobody is there.",
        },
        {
            "Flickr30K_ID": "1",
            "pairID": "1.jpg#0r1n",
            "gold_label": "neutral",
            "sentence1": "x",
            "sentence2": "no image file",
        },
    ]
    jsonl = tmp_path / "snli_ve_dev.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records) + "\n")
    out = tmp_path / "snli_ve_dev.tsv"
    script = load_script("make_snli_ve_tsv")
    assert (
        script.main(
            [
                "--jsonl",
                str(jsonl),
                "--image-dir",
                str(image_dir),
                "--out",
                str(out),
                "--first-id",
                "10",
            ]
        )
        == 0
    )
    rows = read_rows(out)
    assert [[r[0], r[1], r[3], r[4], r[5]] for r in rows] == [
        ["10", "3416050480", "A person is outdoors.", "A man in a hat.", "entailment"],
        ["11", "3416050480", "Nobody is there.", "A man in a hat.", "contradiction"],
    ]
    assert b64_bytes(rows[0][2]) == raw and rows[1][2] == rows[0][2]
    validate = load_script("validate_tsv")
    assert validate.main(["--task", "snli_ve", str(out)]) == 0
