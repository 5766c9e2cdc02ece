"""Toy-world videos and audio clips: determinism, TSV layouts, and media that match labels."""

import json

import numpy as np
import pytest

from unival.data.io.audio import read_audio
from unival.data.io.video import read_video_frames
from unival.data.schemas import AUDIO_CAPTION, VIDEO_CAPTION, VIDEO_VQA
from unival.toy_world.audio import KINDS
from unival.toy_world.media import (
    ToyMediaConfig,
    build_toy_media,
    generate_audio_clips,
    generate_video_clips,
)
from unival.toy_world.scene import COLORS, SHAPES

SMALL = ToyMediaConfig(seed=5, num_train=12, num_valid=3, num_test=3)
STEPS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    out = tmp_path_factory.mktemp("media")
    summary = build_toy_media(out, SMALL)
    return out, summary


def _rows(path):
    return [line.split("\t") for line in path.read_text().splitlines()]


def test_clips_follow_the_seed():
    a = [c.to_dict() for c in generate_video_clips("train", 30, 1, 64, 16)]
    b = [c.to_dict() for c in generate_video_clips("train", 30, 1, 64, 16)]
    c = [c.to_dict() for c in generate_video_clips("train", 30, 2, 64, 16)]
    assert a == b and a != c
    x = [c.to_dict() for c in generate_audio_clips("valid", 30, 1)]
    assert x == [c.to_dict() for c in generate_audio_clips("valid", 30, 1)]
    assert x != [c.to_dict() for c in generate_audio_clips("test", 30, 1)]


def test_rebuild_gives_same_labels_audio_bytes_and_decoded_frames(media, tmp_path):
    out, _ = media
    build_toy_media(tmp_path, SMALL)
    for name in (
        "video_caption_train.tsv",
        "video_qa_valid.tsv",
        "audio_caption_test.tsv",
        "videos_train.json",
        "audios_valid.json",
    ):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name
    for row in _rows(out / "audio_caption_valid.tsv"):
        assert (tmp_path / row[4]).read_bytes() == (out / row[4]).read_bytes()
    for row in _rows(out / "video_caption_valid.tsv"):
        a = read_video_frames(out / row[4], 16, "middle")
        b = read_video_frames(tmp_path / row[4], 16, "middle")
        assert a.shape == (16, 3, 64, 64) and (a.int() - b.int()).abs().max() <= 1


def test_tsv_layouts(media):
    out, summary = media
    train = _rows(out / "video_caption_train.tsv")
    assert len(train) == summary["train_video_caption_rows"] == 3 * 12
    assert all(len(r) == VIDEO_CAPTION.num_columns and r[3] == "" for r in train)
    assert train[0][0] == f"{train[0][1]}_0" and "&&" not in train[0][2]
    valid = _rows(out / "video_caption_valid.tsv")
    assert len(valid) == 3 and all(r[0] == r[1] and r[2].count("&&") == 2 for r in valid)
    assert {r[1] for r in valid}.isdisjoint({r[1] for r in train})  # ids run over splits
    qa = _rows(out / "video_qa_test.tsv")
    assert all(len(r) == VIDEO_VQA.num_columns and r[3].startswith("1.0|!+") for r in qa)
    assert all(r[2].endswith("?") and " " not in r[3] for r in qa)
    audio = _rows(out / "audio_caption_train.tsv")
    assert len(audio) == 36 and all(len(r) == AUDIO_CAPTION.num_columns for r in audio)
    for rows in (train, valid, qa, audio):
        assert all((out / r[-1]).is_file() and not r[-1].startswith("/") for r in rows)
    assert summary["train_texts"] and all("\t" not in t for t in summary["train_texts"])


def _centroid(frame: np.ndarray, rgb) -> np.ndarray:
    """(x, y) centre of the pixels within 60 (L1) of ``rgb`` in (H, W, 3)."""
    mask = np.abs(frame.astype(int) - np.array(rgb)).sum(-1) < 60
    ys, xs = np.nonzero(mask)
    assert len(xs) > 20, "the shape's colour should be visible"
    return np.array([xs.mean(), ys.mean()])


def test_decoded_motion_matches_the_caption(media):
    out, _ = media
    travel = {"slow": [], "fast": []}
    checked = 0
    for split in ("train", "valid", "test"):
        for row in _rows(out / f"video_caption_{split}.tsv"):
            if split == "train" and not row[0].endswith("_0"):
                continue  # train rows hold one phrasing each: check the first one
            words = row[2].split("&&")[0].split()  # "a red circle moving left quickly"
            assert words[0] == "a" and words[3] == "moving"
            color, shape, direction, adverb = words[1], words[2], words[4], words[5]
            assert color in COLORS and shape in SHAPES and direction in STEPS
            frames = read_video_frames(out / row[4], 16, "middle").permute(0, 2, 3, 1).numpy()
            shift = _centroid(frames[-1], COLORS[color]) - _centroid(frames[0], COLORS[color])
            step = np.array(STEPS[direction])
            along, across = float(shift @ step), float(abs(shift @ step[::-1]))
            assert along > 10 and across < 3, (row, shift)
            travel["fast" if adverb == "quickly" else "slow"].append(along)
            checked += 1
    assert checked == 12 + 3 + 3
    assert travel["slow"] and travel["fast"] and max(travel["slow"]) < min(travel["fast"])


def test_questions_answer_from_ground_truth(media):
    out, _ = media
    clips = {
        str(c["video_id"]): c for c in json.loads((out / "videos_train.json").read_text())["clips"]
    }
    for row in _rows(out / "video_qa_train.tsv"):
        clip, answer = clips[row[1]], row[3][len("1.0|!+") :]
        if row[2] == "what color is the moving shape?":
            assert answer == clip["color"]
        elif row[2].startswith("which direction"):
            assert answer == clip["direction"] and clip["color"] in row[2]
        elif row[2].startswith("is the"):
            assert answer == clip["speed"]
        elif row[2].startswith("how many"):
            assert answer == ("two" if clip["still"] else "one")


def _segments(envelope: np.ndarray) -> int:
    """Number of runs where the envelope is on."""
    on = envelope.astype(int)
    return int(on[0] + np.sum(np.diff(on) == 1))


def test_audio_clips_sound_like_their_captions(media):
    out, _ = media
    clips = json.loads((out / "audios_train.json").read_text())["clips"]
    clips += json.loads((out / "audios_valid.json").read_text())["clips"]
    assert {c["kind"] for c in clips} == set(KINDS)  # this seed draws every kind
    for c in clips:
        x, rate = read_audio(out / c["path"])
        assert rate == c["sample_rate"] and len(x) == round(c["duration"] * rate)
        caption = c["captions"][0]
        window = int(0.01 * rate)
        energy = np.sqrt(np.convolve(x**2, np.ones(window) / window, mode="same"))
        if c["kind"] == "beeps":
            assert _segments(energy > 0.1) == c["count"]
            assert caption.split()[0] == ["one", "two", "three", "four"][c["count"] - 1]
        loud = x[energy > 0.1]
        if c["kind"] in ("tone", "beeps"):
            peak = peak_of(loud, rate)
            assert (peak < 500) == (c["pitch"] == "low") and c["pitch"] in caption
        if c["kind"] == "chirp":
            half = len(loud) // 2
            rising = peak_of(loud[half:], rate) > peak_of(loud[:half], rate)
            assert rising == (c["direction"] == "rising") and c["direction"] in caption
        if c["kind"] == "noise":
            assert "noise" in caption and 0.3 < (energy > 0.05).mean() * c["duration"] < 0.5


def peak_of(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum)) * rate / len(x)
