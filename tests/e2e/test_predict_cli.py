"""``unival predict`` through the installed console script: folders, globs, TSV, JSONL, drawn
boxes, for images, videos (real h264 mp4/mov files) and audio (wav/flac)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import TEST_THREADS
from PIL import Image

from unival.commands.predict import TASK_METHODS, expand_inputs
from unival.data.io.audio import write_audio
from unival.data.io.video import write_video
from unival.hub import load
from unival.testing.toy_checkpoint import TOY_ANSWERS, write_toy_checkpoint
from unival.toy_world import generate_scenes, render_scene

UNIVAL = Path(sys.executable).parent / "unival"
THROUGHPUT = re.compile(
    r"(\d+) inputs \((\d+) failed\) in ([\d.]+) s: ([\d.]+) inputs/s \(batch (\d+), (.*)\)"
)


def run_predict(*args, timeout=300):
    if not UNIVAL.is_file():
        pytest.skip(f"{UNIVAL} missing: pip install --no-deps -e .")
    env = dict(os.environ, OMP_NUM_THREADS=str(TEST_THREADS))
    proc = subprocess.run(
        [str(UNIVAL), "predict", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_toy_checkpoint(
        tmp_path_factory.mktemp("predict_cli"), "caption", layout="released"
    )


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
    run_predict(
        "--task",
        "refcoco",
        "--model",
        checkpoint,
        tsv,
        "--output",
        out,
        "--draw-boxes",
        drawn,
        "--beam",
        "2",
        "--batch-size",
        "2",
        "--no-progress",
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["input"] for r in records] == [str(p) for p in images]
    for record in records:
        assert record["expression"] == "the red circle" and len(record["box"]) == 4
        with Image.open(record["drawn"]) as img:
            assert img.size == (64, 64)


def test_questions_are_required_for_vqa(checkpoint, tmp_path):
    write_toy_images(tmp_path, 1)
    proc = subprocess.run(
        [str(UNIVAL), "predict", "--task", "vqa", "--model", str(checkpoint), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "needs a question per input" in proc.stderr


def test_folders_are_scanned_for_the_tasks_modality(tmp_path):
    for name in ("b.mp4", "a.MOV", "c.wav", "d.flac", "e.png", "f.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.mp4").mkdir()  # a folder named like a video is not an input
    names = {
        modality: [Path(item.media).name for item in expand_inputs([str(tmp_path)], suffixes)]
        for modality, suffixes in (
            ("video", (".mp4", ".mov")),
            ("audio", (".wav", ".flac")),
            ("image", (".png",)),
        )
    }
    assert names == {"video": ["a.MOV", "b.mp4"], "audio": ["c.wav", "d.flac"], "image": ["e.png"]}
    for task in (
        "video_caption",
        "video_vqa_gen",
        "audio_caption",
        "caption_video",
        "video_qa",
        "caption_audio",
    ):
        assert task in TASK_METHODS


def write_toy_media(folder: Path) -> dict:
    """Two clips (mp4, mov), two sounds (wav, flac) and an image and a text file as distractors."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    videos = [folder / "clip_a.mp4", folder / "clip_b.mov"]
    for path in videos:
        write_video(path, rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8))
    audios = [folder / "sound_a.wav", folder / "sound_b.flac"]
    for i, path in enumerate(audios):
        write_audio(
            path, 0.4 * np.sin(2 * np.pi * (300 + 200 * i) * np.arange(9000) / 16000), 16000
        )
    write_toy_images(folder, 1)
    (folder / "notes.txt").write_text("not media")
    return {"videos": videos, "audios": audios}


def _records(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_video_captions_from_a_folder_and_a_glob(tmp_path):
    media = write_toy_media(tmp_path / "media")
    checkpoint = write_toy_checkpoint(tmp_path / "ckpt", "video_caption")
    out = tmp_path / "captions.jsonl"
    run_predict(
        "--task",
        "video_caption",
        "--model",
        checkpoint,
        tmp_path / "media",
        tmp_path / "media" / "*.mp4",
        "--output",
        out,
        "--beam",
        "2",
        "--max-len-b",
        "4",
        "--batch-size",
        "2",
        "--no-progress",
    )
    records = _records(out)
    expected = [str(p) for p in sorted(media["videos"])] + [str(tmp_path / "media" / "clip_a.mp4")]
    assert [r["input"] for r in records] == expected
    api = load(checkpoint, device="cpu").caption_video(
        [r["input"] for r in records], beam=2, max_len_b=4
    )
    assert [r["caption"] for r in records] == api


def test_video_questions_from_a_tsv(tmp_path):
    media = write_toy_media(tmp_path / "media")
    checkpoint = write_toy_checkpoint(tmp_path / "ckpt", "video_vqa_gen")
    tsv = tmp_path / "questions.tsv"
    tsv.write_text(
        "media/clip_a.mp4\tis there a square\nmedia/clip_b.mov\thow many circles are there\n"
    )
    out = tmp_path / "answers.jsonl"
    run_predict(
        "--task",
        "video_qa",
        "--model",
        checkpoint,
        tsv,
        "--output",
        out,
        "--beam",
        "2",
        "--no-progress",
    )
    records = _records(out)
    assert [(r["input"], r["question"]) for r in records] == [
        (str(media["videos"][0]), "is there a square"),
        (str(media["videos"][1]), "how many circles are there"),
    ]
    assert all(r["answer"] in TOY_ANSWERS and "error" not in r for r in records)


def test_audio_captions_from_a_folder(tmp_path):
    media = write_toy_media(tmp_path / "media")
    checkpoint = write_toy_checkpoint(
        tmp_path / "ckpt",
        "audio_caption",
        model_overrides={"audio_encoder_name": "pann_cnn6", "hop_size": 200},
    )
    out = tmp_path / "captions.jsonl"
    run_predict(
        "--task",
        "audio_caption",
        "--model",
        checkpoint,
        tmp_path / "media",
        "--output",
        out,
        "--beam",
        "2",
        "--max-len-b",
        "4",
        "--no-progress",
    )
    records = _records(out)
    assert [r["input"] for r in records] == [str(p) for p in media["audios"]]
    assert all(isinstance(r["caption"], str) and "error" not in r for r in records)


def test_a_folder_without_files_of_the_modality_is_an_error(checkpoint, tmp_path):
    write_toy_images(tmp_path, 2)
    proc = subprocess.run(
        [
            str(UNIVAL),
            "predict",
            "--task",
            "video_caption",
            "--model",
            str(checkpoint),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "is a folder with no .mp4/" in proc.stderr
    assert (
        proc.stderr.strip().splitlines()[-1]
        == 'unival predict: 1 inputs, 1 failed (their lines carry "error")'
    )


@pytest.mark.slow
def test_a_folder_of_100_toy_images_gives_one_line_each(checkpoint, tmp_path):
    images = write_toy_images(tmp_path / "images", 100)
    (tmp_path / "images" / "notes.txt").write_text("not an image, not listed")
    out = tmp_path / "captions.jsonl"
    proc = run_predict(
        "--task",
        "caption",
        "--model",
        checkpoint,
        tmp_path / "images",
        "--output",
        out,
        "--batch-size",
        "16",
        "--device",
        "cpu",
        timeout=900,
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["input"] for r in records] == [str(p) for p in images]
    assert all(isinstance(r["caption"], str) and "error" not in r for r in records)
    match = THROUGHPUT.search(proc.stderr)
    assert match and match.group(1) == "100" and match.group(2) == "0", proc.stderr[-2000:]
    sys.stderr.write(f"unival predict throughput: {match.group(0)}\n")
