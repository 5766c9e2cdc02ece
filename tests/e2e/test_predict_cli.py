"""``unival predict`` through the installed console script: folders, TSV, JSONL, drawn boxes."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from unival.hub.toy_checkpoint import write_toy_checkpoint
from unival.toy_world import generate_scenes, render_scene

UNIVAL = Path(sys.executable).parent / "unival"
THROUGHPUT = re.compile(r"(\d+) inputs \((\d+) failed\) in ([\d.]+) s: ([\d.]+) inputs/s \(batch (\d+), (.*)\)")


def run_predict(*args, timeout=300):
    if not UNIVAL.is_file():
        pytest.skip(f"{UNIVAL} missing: pip install --no-deps -e .")
    env = dict(os.environ, OMP_NUM_THREADS="2")
    proc = subprocess.run([str(UNIVAL), "predict", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_toy_checkpoint(tmp_path_factory.mktemp("predict_cli"), "caption", layout="released")


def write_toy_images(folder: Path, count: int) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for scene in generate_scenes("test", count, seed=0, image_size=64):
        path = folder / f"scene_{scene.scene_id:04d}.png"
        render_scene(scene).save(path)
        paths.append(path)
    return paths


def test_grounding_from_a_tsv_writes_boxes_and_drawings(checkpoint, tmp_path):
    images = write_toy_images(tmp_path / "images", 3)
    tsv = tmp_path / "inputs.tsv"
    tsv.write_text("".join(f"images/{p.name}\tthe red circle\n" for p in images))
    out, drawn = tmp_path / "boxes.jsonl", tmp_path / "drawn"
    run_predict("--task", "refcoco", "--model", checkpoint, tsv, "--output", out, "--draw-boxes", drawn,
                "--beam", "2", "--batch-size", "2", "--no-progress")
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["input"] for r in records] == [str(p) for p in images]
    for record in records:
        assert record["expression"] == "the red circle" and len(record["box"]) == 4
        with Image.open(record["drawn"]) as img:
            assert img.size == (64, 64)


def test_questions_are_required_for_vqa(checkpoint, tmp_path):
    write_toy_images(tmp_path, 1)
    proc = subprocess.run([str(UNIVAL), "predict", "--task", "vqa", "--model", str(checkpoint), str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "needs a question per input" in proc.stderr


@pytest.mark.slow
def test_a_folder_of_100_toy_images_gives_one_line_each(checkpoint, tmp_path):
    images = write_toy_images(tmp_path / "images", 100)
    (tmp_path / "images" / "notes.txt").write_text("not an image, not listed")
    out = tmp_path / "captions.jsonl"
    proc = run_predict("--task", "caption", "--model", checkpoint, tmp_path / "images", "--output", out,
                       "--batch-size", "16", "--device", "cpu", timeout=900)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["input"] for r in records] == [str(p) for p in images]
    assert all(isinstance(r["caption"], str) and "error" not in r for r in records)
    match = THROUGHPUT.search(proc.stderr)
    assert match and match.group(1) == "100" and match.group(2) == "0", proc.stderr[-2000:]
    sys.stderr.write(f"unival predict throughput: {match.group(0)}\n")
