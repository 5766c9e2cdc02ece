"""The toy world: determinism, file layout, captions that match the scenes, decodable images."""

import importlib.util
import json

import pytest

from unival.data.caption_dataset import CaptionDataset
from unival.data.io.image import decode_image
from unival.data.tsv import TSVFile
from unival.tokenizer import UnivalTokenizer
from unival.toy_world import Scene, ToyObject, ToyWorldConfig, build_toy_world, scene_captions
from unival.toy_world.scene import COLORS, SIZES

SMALL = ToyWorldConfig(seed=3, num_train=40, num_valid=6, num_test=8, image_size=64)
TASKS = ("caption", "vqa", "refcoco", "snli_ve", "pretrain")
FILES = [f"{task}_{split}.tsv" for task in TASKS for split in ("train", "valid", "test")] + [
    "scenes_train.json",
    "scenes_valid.json",
    "scenes_test.json",
    "dict.txt",
    "vqa_answers.txt",
    "vqa_ans2label.pkl",
    "baselines.json",
    "negative_sample/all_captions.txt",
    "negative_sample/object.txt",
    "negative_sample/type2ans.json",
    "images/0.png",
]
TOP_LEVEL = sorted({name.split("/")[0] for name in FILES})


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy")
    build_toy_world(out, SMALL)
    return out


def _rows(path):
    return [line.split("\t") for line in path.read_text().splitlines()]


def _load_script(repo_root, name):
    module_spec = importlib.util.spec_from_file_location(
        name, repo_root / "data_utils" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_same_seed_same_bytes_other_seed_differs(world, tmp_path):
    again = tmp_path / "again"
    build_toy_world(again, SMALL)
    for name in FILES:
        assert (again / name).read_bytes() == (world / name).read_bytes(), name
    other = tmp_path / "other"
    build_toy_world(other, ToyWorldConfig(seed=4, num_train=40, num_valid=6, num_test=8))
    assert (other / "caption_train.tsv").read_bytes() != (world / "caption_train.tsv").read_bytes()


def test_caption_tsv_layout(world):
    train, valid, test = (_rows(world / f"caption_{s}.tsv") for s in ("train", "valid", "test"))
    assert all(len(r) == 5 for r in train + valid + test)
    assert len(valid) == 6 and len(test) == 8
    # train: one caption per row, uniq_id "<image_id>_<k>", 3 phrasings per image
    train_ids = [r[1] for r in train]
    assert sorted(set(train_ids), key=int) == [str(i) for i in range(40)]
    assert all(train_ids.count(i) == 3 for i in set(train_ids))
    assert all(r[0] == f"{r[1]}_{k % 3}" for k, r in enumerate(train))
    assert all("&&" not in r[2] for r in train)
    # valid/test: one row per image, the three references "&&"-joined, ids continue
    assert [r[1] for r in valid] == [str(i) for i in range(40, 46)]
    assert [r[1] for r in test] == [str(i) for i in range(46, 54)]
    for r in valid + test:
        refs = r[2].split("&&")
        assert len(refs) == 3 and len(set(refs)) == 3 and r[0] == r[1]


def test_captions_and_labels_match_scene_ground_truth(world):
    payload = json.loads((world / "scenes_valid.json").read_text())
    assert payload["split"] == "valid" and payload["image_size"] == 64
    rows = {r[1]: r for r in _rows(world / "caption_valid.tsv")}
    for s in payload["scenes"]:
        objects = s["objects"]
        assert 2 <= len(objects) <= 3
        mentions = [f"a {o['size']} {o['color']} {o['shape']}" for o in objects]
        assert len(set(mentions)) == len(mentions)  # attribute triples are distinct
        refs = rows[s["image_id"]][2].split("&&")
        assert refs == s["captions"]
        for ref in refs:
            for mention in mentions:
                assert ref.count(mention) == 1, (ref, mention)
            assert ref.count(" a ") + ref.startswith("a ") == len(objects)
        assert rows[s["image_id"]][3].split("&&") == [m[2:] for m in mentions]
        number = {2: "two", 3: "three"}[len(objects)]
        assert refs[2].startswith(f"there are {number} shapes ")


def test_images_decode_and_show_the_objects(world):
    payload = json.loads((world / "scenes_test.json").read_text())
    rows = _rows(world / "caption_test.tsv")
    for s, row in zip(payload["scenes"], rows):
        img = decode_image(row[4])
        assert img.size == (64, 64)
        boxes = [o["box"] for o in s["objects"]]
        for o in s["objects"]:
            x0, y0, x1, y1 = o["box"]
            assert x1 - x0 == round(SIZES[o["size"]] * 64) == y1 - y0
            assert 0 <= x0 and x1 <= 64 and 0 <= y0 and y1 <= 64
            # the box centre is inside every shape (triangles included)
            assert img.getpixel(((x0 + x1) // 2, (y0 + y1) // 2 + 1)) == COLORS[o["color"]]
        for i, a in enumerate(boxes):  # boxes do not overlap
            for b in boxes[i + 1 :]:
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_relations_of_a_hand_placed_scene():
    scene = Scene(
        0,
        64,
        [
            ToyObject("circle", "red", "big", (2, 2, 24, 24)),  # centre (13, 13)
            ToyObject("square", "blue", "small", (30, 40, 43, 53)),  # centre (36.5, 46.5): below
            ToyObject("triangle", "green", "small", (50, 36, 63, 49)),  # centre (56.5, 42.5)
        ],
    )
    assert scene_captions(scene) == [
        "a big red circle above a small blue square left of a small green triangle",
        "a small green triangle right of a small blue square below a big red circle",
        "there are three shapes a big red circle a small blue square and a small green triangle",
    ]


def test_dictionary_covers_captions_and_dataset_reads_the_files(world, tmp_path):
    tok = UnivalTokenizer.from_files(world / "dict.txt", num_codes=0, num_bins=16)
    for row in _rows(world / "caption_train.tsv") + _rows(world / "caption_test.tsv"):
        for ref in row[2].split("&&"):
            ids = tok.encode(" " + ref)
            assert tok.unk not in ids.tolist()
            assert tok.decode(ids) == ref
    # even a world with one training image covers every word of the others' captions
    tiny = tmp_path / "tiny"
    build_toy_world(tiny, ToyWorldConfig(seed=5, num_train=1, num_valid=1, num_test=20))
    tiny_tok = UnivalTokenizer.from_files(tiny / "dict.txt", num_codes=0, num_bins=16)
    for row in _rows(tiny / "caption_test.tsv"):
        assert tiny_tok.unk not in tiny_tok.encode(" " + row[2].replace("&&", " ")).tolist()
    ds = CaptionDataset(
        "test",
        TSVFile(world / "caption_test.tsv", "1,4,2", expected_columns=5),
        tok,
        patch_image_size=32,
    )
    sample = ds[0]
    assert sample["patch_image"].shape == (3, 32, 32) and len(sample["references"]) == 3
    assert tok.unk not in sample["source"].tolist()


def test_validate_tsv_accepts_good_and_reports_bad_rows(world, tmp_path, repo_root, capsys):
    validate = _load_script(repo_root, "validate_tsv")
    files = [str(world / f"caption_{s}.tsv") for s in ("train", "valid")]
    assert validate.main(["--task", "caption"] + files) == 0
    rows = _rows(world / "caption_valid.tsv")
    rows[1][4] = "@@broken@@"
    rows[3] = rows[3][:4]
    bad = tmp_path / "bad.tsv"
    bad.write_text("".join("\t".join(r) + "\n" for r in rows))
    capsys.readouterr()
    assert validate.main(["--task", "caption", str(bad)]) == 1
    report = capsys.readouterr().err  # the CLI logs to stderr
    assert f"{bad}:2 column 4 (image): undecodable base64" in report
    assert f"{bad}:4: expected 5 tab-separated columns, found 4" in report
    assert "bad.tsv:1" not in report and "bad.tsv:3" not in report


def test_cli_writes_every_file(tmp_path, repo_root):
    import unival.commands.toy_world

    cli = _load_script(repo_root, "toy_world")
    assert cli.main is unival.commands.toy_world.main  # `unival toy-world` runs the same code
    out = tmp_path / "cli"
    assert (
        cli.main(
            [
                "--out",
                str(out),
                "--seed",
                "1",
                "--num-train",
                "5",
                "--num-valid",
                "2",
                "--num-test",
                "2",
                "--image-size",
                "48",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == TOP_LEVEL
    assert len(list((out / "images").iterdir())) == 5 + 2 + 2
    assert decode_image(_rows(out / "caption_test.tsv")[0][4]).size == (48, 48)
