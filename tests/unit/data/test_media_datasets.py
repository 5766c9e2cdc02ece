"""Caption and VQA datasets with video and audio loaders, on tiny
media files written here; the bad-input policy for undecodable media."""

import numpy as np
import pytest
import torch

from unival.data.caption_dataset import CaptionDataset
from unival.data.collate import collate
from unival.data.errors import BadSampleError
from unival.data.io.audio import write_audio
from unival.data.io.video import write_video
from unival.data.media import AudioLoader, VideoLoader
from unival.data.modality import Modality
from unival.data.tsv import TSVFile
from unival.data.vqa_dataset import VqaGenDataset
from unival.tokenizer import UnivalTokenizer

# [BOS] " what does the video describe?" [EOS] in the BART dictionary ("image" is 2274)
VIDEO_PROMPT_IDS = [0, 99, 473, 5, 569, 6190, 116, 2]


@pytest.fixture(scope="module")
def tokenizer(bart_dict_path):
    if not bart_dict_path.is_file():
        pytest.skip(f"{bart_dict_path} absent")
    return UnivalTokenizer.from_files(bart_dict_path)


@pytest.fixture()
def media(tmp_path):
    frames = np.zeros((12, 20, 24, 3), np.uint8)
    frames[..., 0] = (np.arange(12) * 20)[:, None, None]  # red = 20 * frame index
    write_video(tmp_path / "clip.mp4", frames, fps=4, options={"crf": "0"})
    t = np.arange(4000) / 8000
    write_audio(tmp_path / "tone.wav", 0.5 * np.sin(2 * np.pi * 300 * t), 8000)
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    return tmp_path


def _tsv(path, rows, cols):
    path.write_text("".join("\t".join(r) + "\n" for r in rows))
    return TSVFile(path, selected_cols=cols)


def test_video_caption_sample(media, tokenizer):
    tsv = _tsv(media / "v.tsv", [["u0", "0", "A clip, moving!", "", "clip.mp4"]], "0,4,2")
    loader = VideoLoader(num_frames=4, size=16, media_dir=str(media), eval_sample_type="middle")
    ds = CaptionDataset(
        "valid", tsv, tokenizer, media_loader=loader, prompt=" what does the video describe?"
    )
    s = ds[0]
    assert s["source"].tolist() == VIDEO_PROMPT_IDS
    assert s["patch_type"] == int(Modality.VIDEO) and "patch_image" not in s
    assert s["patch_video"].shape == (3, 4, 16, 16)
    # middle of [0,3) [3,6) [6,9) [9,12) = frames 1, 4, 7, 10 -> red 20, 80, 140, 200 in [-1, 1]
    red = s["patch_video"][0].mean(dim=(1, 2))
    torch.testing.assert_close(
        red, torch.tensor([20.0, 80.0, 140.0, 200.0]) / 127.5 - 1, atol=0.03, rtol=0
    )
    assert s["references"] == ["A clip moving"]
    batch = collate([s, ds[0]], tokenizer.pad, tokenizer.eos)
    assert batch["net_input"]["patch_videos"].shape == (2, 3, 4, 16, 16)
    assert (
        batch["net_input"]["patch_types"].tolist() == [1, 1]
        and "patch_images" not in batch["net_input"]
    )


def test_rand_sampling_repeats_per_epoch_and_row(media, tokenizer):
    tsv = _tsv(media / "v.tsv", [["u0", "0", "a clip", "", "clip.mp4"]] * 2, "0,4,2")
    loader = VideoLoader(num_frames=4, size=16, media_dir=str(media))
    ds = CaptionDataset("train", tsv, tokenizer, media_loader=loader)
    first = ds[0]["patch_video"]
    assert torch.equal(first, ds[0]["patch_video"])  # same (epoch, row): same frames
    draws = set()
    for epoch in range(1, 9):
        ds.set_epoch(epoch)
        draws.add(tuple(ds[0]["patch_video"][0].mean(dim=(1, 2)).round(decimals=2).tolist()))
    assert len(draws) > 1  # rand picks in range(a, b - 1) = 2 choices per segment


def test_audio_caption_uses_the_video_prompt_and_pads(media, tokenizer):
    tsv = _tsv(media / "a.tsv", [["u0", "0", "a low tone", "", "tone.wav"]], "0,4,2")
    loader = AudioLoader(max_audio_len=10000, media_dir=str(media))
    ds = CaptionDataset(
        "train", tsv, tokenizer, media_loader=loader, prompt=" what does the video describe?"
    )
    s = ds[0]
    assert s["source"].tolist() == VIDEO_PROMPT_IDS and s["patch_type"] == int(Modality.AUDIO)
    wave = s["patch_audio"]
    assert wave.shape == (10000,)
    # 4000 samples tiled 10000 // 4000 = 2 times, then zeros
    torch.testing.assert_close(wave[:4000], wave[4000:8000])
    assert wave[8000:].abs().max() == 0 and wave[:4000].abs().max() > 0.49
    cropped = CaptionDataset(
        "train", tsv, tokenizer, media_loader=AudioLoader(1000, str(media), 16000)
    )[0]
    assert cropped["patch_audio"].shape == (1000,)  # resampled to 16 kHz, then a random window


def test_video_qa_sample_and_bad_media(media, tokenizer):
    rows = [
        ["q0", "0", "what moves", "1.0|!+red", "", "clip.mp4"],
        ["q1", "0", "what moves", "1.0|!+red", "", "broken.mp4"],
        ["q2", "0", "what moves", "1.0|!+red", "", "absent.mp4"],
    ]
    tsv = _tsv(media / "qa.tsv", rows, "0,5,2,3,4")
    loader = VideoLoader(num_frames=2, size=8, media_dir=str(media))
    ds = VqaGenDataset("train", tsv, tokenizer, media_loader=loader)
    s = ds[0]
    assert s["patch_video"].shape == (3, 2, 8, 8) and s["patch_type"] == int(Modality.VIDEO)
    assert s["conf"] == 1.0 and tokenizer.decode(s["prefix_tokens"]).strip() == "what moves?"
    for index, reason in ((1, "not a readable video"), (2, "absent.mp4")):
        with pytest.raises(BadSampleError, match=reason) as error:
            ds[index]
        assert (
            error.value.line == index + 1
            and error.value.column == 5
            and error.value.column_name == "video"
        )
    skipping = VqaGenDataset("train", tsv, tokenizer, media_loader=loader, skip_bad_samples=True)
    batch = skipping.collater([skipping[i] for i in range(3)])
    assert batch["nskipped"] == 2 and batch["nsentences"] == 1


def test_loaders_reject_bad_settings():
    with pytest.raises(ValueError, match="frame sampling"):
        VideoLoader(sample_type="random")
    with pytest.raises(ValueError, match="max_audio_len"):
        AudioLoader(max_audio_len=0)
