"""Video and audio through the Python API: file paths and the files' bytes give the same results.

Real tiny mp4 (h264) and wav/flac files are written with PyAV; the toy checkpoints have random
``unival_tiny`` weights (the audio one with a PANN CNN6 encoder).
"""

import os
import tempfile

import numpy as np
import pytest
import torch

from unival.data.io.audio import write_audio
from unival.data.io.video import write_video
from unival.hub import PredictionError, load
from unival.hub.inputs import MediaScratch
from unival.testing.toy_checkpoint import TOY_ANSWERS, write_toy_checkpoint

AUDIO_MODEL = {"audio_encoder_name": "pann_cnn6", "hop_size": 200}
SETTINGS = {"beam": 2, "max_len_b": 5}


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """Three 6-frame 32 px clips of different content, a wav and a flac tone."""
    root = tmp_path_factory.mktemp("hub_media")
    rng = np.random.default_rng(0)
    videos = []
    for i in range(3):
        path = root / f"clip{i}.mp4"
        write_video(path, rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8))
        videos.append(path)
    audios = []
    for i, suffix in enumerate((".wav", ".flac")):
        path = root / f"tone{i}{suffix}"
        t = np.arange(12000) / 16000
        write_audio(path, 0.5 * np.sin(2 * np.pi * (220 + 330 * i) * t), 16000)
        audios.append(path)
    return {"videos": videos, "audios": audios}


@pytest.fixture(scope="module")
def video_predictor(tmp_path_factory):
    return load(
        write_toy_checkpoint(tmp_path_factory.mktemp("video_ckpt"), "video_caption"), device="cpu"
    )


@pytest.fixture(scope="module")
def audio_predictor(tmp_path_factory):
    path = write_toy_checkpoint(
        tmp_path_factory.mktemp("audio_ckpt"), "audio_caption", model_overrides=AUDIO_MODEL
    )
    return load(path, device="cpu")


def _bytes(paths):
    return [p.read_bytes() for p in paths]


def test_video_bytes_give_the_model_inputs_and_captions_of_their_files(video_predictor, media):
    paths = media["videos"]
    by_path = video_predictor.model_inputs("caption_video", paths)["net_input"]["patch_videos"]
    by_bytes = video_predictor.model_inputs("caption_video", _bytes(paths))["net_input"][
        "patch_videos"
    ]
    assert by_path.shape == (3, 3, 4, 32, 32)
    assert torch.equal(by_path, by_bytes)
    assert not torch.equal(by_path[0], by_path[1])  # the clips differ, so equality means something
    captions = video_predictor.caption_video(paths, **SETTINGS)
    assert video_predictor.caption_video(_bytes(paths), **SETTINGS) == captions
    mixed = [paths[0], bytearray(paths[1].read_bytes()), str(paths[2])]
    assert video_predictor.caption_video(mixed, batch_size=2, **SETTINGS) == captions
    single = video_predictor.caption_video(
        paths[1].read_bytes(), **SETTINGS
    )  # one input -> one str
    assert single == captions[1]


def test_video_qa_takes_bytes_too(tmp_path, media):
    predictor = load(write_toy_checkpoint(tmp_path, "video_vqa_gen"), device="cpu")
    questions = ["what colour is the big shape", "is there a square", "how many circles are there"]
    answers = predictor.video_qa(
        media["videos"], questions, beam=2
    )  # the question is the decoder prefix
    assert predictor.video_qa(_bytes(media["videos"]), questions, beam=2) == answers
    assert set(answers) <= set(TOY_ANSWERS)


def test_audio_bytes_give_the_model_inputs_and_captions_of_their_files(audio_predictor, media):
    paths = media["audios"]
    by_path = audio_predictor.model_inputs("caption_audio", paths)["net_input"]["patch_audios"]
    by_bytes = audio_predictor.model_inputs("caption_audio", _bytes(paths))["net_input"][
        "patch_audios"
    ]
    assert by_path.shape == (2, 8000)  # the checkpoint's max_audio_len at 16 kHz
    assert torch.equal(by_path, by_bytes)
    assert not torch.equal(by_path[0], by_path[1])
    captions = audio_predictor.caption_audio(paths, **SETTINGS)
    assert audio_predictor.caption_audio(_bytes(paths), **SETTINGS) == captions


def test_bytes_live_in_a_temporary_folder_until_their_batch_is_done(
    video_predictor, media, tmp_path, monkeypatch
):
    with MediaScratch() as scratch:
        path = scratch.write(b"\x00\x01", "video")
        assert open(path, "rb").read() == b"\x00\x01" and os.path.dirname(path) == scratch.folder
    assert not os.path.exists(path)
    temp_root = tmp_path / "temp"
    temp_root.mkdir()
    monkeypatch.setattr(
        tempfile, "tempdir", str(temp_root)
    )  # where mkdtemp puts the scratch folders
    seen = []
    for index, caption in video_predictor.iter_predict(
        "caption_video", _bytes(media["videos"]), batch_size=2, generation=SETTINGS
    ):
        seen.append(index)
        assert isinstance(caption, str)
        assert os.listdir(temp_root) == []  # removed before the batch's results are handed out
    assert seen == [0, 1, 2]


def test_empty_or_unreadable_bytes_are_refused_clearly(video_predictor, audio_predictor, media):
    with pytest.raises(ValueError, match="empty video bytes"):
        video_predictor.caption_video(b"")
    with pytest.raises(ValueError, match="empty audio bytes"):
        audio_predictor.caption_audio([bytearray()])
    clip = media["videos"][0].read_bytes()
    with pytest.raises(
        ValueError, match=r"<input>:3 .*not a readable video"
    ):  # numbered among all inputs
        video_predictor.caption_video([clip, clip, b"not a video at all"], batch_size=2, **SETTINGS)
    results = dict(
        video_predictor.iter_predict(
            "caption_video", [b"", b"not a video at all", clip], generation=SETTINGS, skip_bad=True
        )
    )
    assert isinstance(results[0], PredictionError) and "empty video bytes" in results[0].reason
    assert isinstance(results[1], PredictionError) and "<input>:2" in results[1].reason
    assert "not a readable video" in results[1].reason and isinstance(results[2], str)
