"""Video reading (frame sampling, PyAV decoding, bad files) and the frame transforms."""

import fractions

import av
import numpy as np
import pytest
import torch

from unival.data.io import video as video_io
from unival.data.io.video import probe_num_frames, read_video_frames, sample_frame_indices
from unival.data.io.video_transforms import (
    apply_op,
    center_crop,
    equalize_channel,
    random_resized_crop_box,
    video_to_tensor,
)


# ---------------------------------------------------------------------------------------
# frame index sampling (the original "rand" sampler), expected values worked out by hand
# ---------------------------------------------------------------------------------------
def test_middle_32_frames_8_samples():
    # intervals [0,4), [4,8), ... -> middle (a + b - 1) // 2 = a + 1
    assert sample_frame_indices(32, 8, "middle") == [1, 5, 9, 13, 17, 21, 25, 29]


def test_rand_32_frames_8_samples_stays_in_range_a_to_b_minus_2():
    seen = set()
    for seed in range(60):
        idx = sample_frame_indices(32, 8, "rand", np.random.default_rng(seed))
        assert len(idx) == 8
        for k, i in enumerate(idx):
            assert 4 * k <= i <= 4 * k + 2  # range(a, b - 1) never gives b - 1
            seen.add(i - 4 * k)
    assert seen == {0, 1, 2}


def test_rand_with_one_frame_intervals_is_deterministic():
    # 16 frames / 8: intervals of 2 -> range(a, a + 1) = {a}
    assert sample_frame_indices(16, 8, "rand", np.random.default_rng(0)) == list(range(0, 16, 2))


def test_fewer_frames_than_samples_pads_with_last_index():
    # 5 frames, 8 wanted: 5 one-frame intervals -> empty ranges -> 5 sorted random distinct
    # frames = all of them, then padded with the last
    expected = [0, 1, 2, 3, 4, 4, 4, 4]
    assert sample_frame_indices(5, 8, "rand", np.random.default_rng(3)) == expected
    assert sample_frame_indices(5, 8, "middle") == expected
    assert sample_frame_indices(1, 3, "rand", np.random.default_rng(0)) == [0, 0, 0]


def test_degenerate_intervals_fall_back_to_sorted_distinct_frames():
    # 9 frames, 8 wanted: boundaries 0,1,2,3,4,5,6,7,9 -> some range(a, b - 1) is empty
    for seed in range(20):
        idx = sample_frame_indices(9, 8, "rand", np.random.default_rng(seed))
        assert idx == sorted(idx) and len(set(idx)) == 8 and 0 <= min(idx) and max(idx) <= 8


def test_uniform_and_bad_arguments():
    assert sample_frame_indices(10, 4, "uniform") == [0, 3, 6, 9]
    with pytest.raises(ValueError):
        sample_frame_indices(0, 4, "middle")
    with pytest.raises(ValueError):
        sample_frame_indices(10, 4, "nearest")


# ---------------------------------------------------------------------------------------
# real files written with PyAV here
# ---------------------------------------------------------------------------------------
def frame_color(i: int) -> tuple[int, int, int]:
    """A colour per frame index; red steps by 7 so neighbours are told apart."""
    return (20 + 7 * i, 200 - 5 * i, 90)


def write_colored(
    path, n, codec="libx264", size=(48, 32), gop=None, pts_ms=None, pix_fmt="yuv420p", rotation=None
):
    """n solid-colour frames (frame_color); ``pts_ms`` gives variable timestamps."""
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=8)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if gop:
            stream.codec_context.gop_size = gop
        if pts_ms is not None:
            stream.codec_context.time_base = fractions.Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i in range(n):
            array = np.empty((height, width, 3), np.uint8)
            array[:] = frame_color(i)
            if rotation is not None:
                array[:, : width // 4] = 255  # a white stripe on the left
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[i], fractions.Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def decoded_indices(frames: torch.Tensor, n: int) -> list[int]:
    """Which frame_color each decoded frame shows (nearest red, checked within 3 levels)."""
    red = frames[:, 0].float().mean(dim=(1, 2))
    indices = [int(round((r.item() - 20) / 7)) for r in red]
    for r, i in zip(red, indices):
        assert 0 <= i < n and abs(r.item() - frame_color(i)[0]) < 3
    return indices


@pytest.mark.parametrize("codec,gop", [("libx264", None), ("libx264", 4), ("mpeg4", 5)])
@pytest.mark.parametrize("method", ["seek", "linear"])
def test_decoded_frames_have_the_colours_of_the_sampled_indices(tmp_path, codec, gop, method):
    path = tmp_path / "clip.mp4"
    write_colored(path, 24, codec=codec, gop=gop)
    assert probe_num_frames(path) == 24
    frames = read_video_frames(path, 8, "middle", method=method)
    assert frames.dtype == torch.uint8 and frames.shape == (8, 3, 32, 48)
    assert decoded_indices(frames, 24) == [1, 4, 7, 10, 13, 16, 19, 22]  # (3k + 3k+2) // 2
    colors = frames[0].float().mean(dim=(1, 2))
    assert torch.allclose(colors, torch.tensor(frame_color(1), dtype=torch.float32), atol=4)
    rand = read_video_frames(path, 8, "rand", rng=np.random.default_rng(5), method=method)
    for k, i in enumerate(decoded_indices(rand, 24)):
        assert 3 * k <= i <= 3 * k + 1


def test_seek_and_linear_agree_on_random_draws(tmp_path):
    path = tmp_path / "clip.mp4"
    write_colored(path, 30, gop=6)
    for seed in range(3):
        a = read_video_frames(path, 5, "rand", rng=np.random.default_rng(seed), method="seek")
        b = read_video_frames(path, 5, "rand", rng=np.random.default_rng(seed), method="linear")
        assert torch.equal(a, b)


@pytest.mark.parametrize("thread_type", [None, "AUTO", "FRAME", "SLICE"])
def test_decoder_threading_is_the_setting_and_decodes_the_same_frames(
    tmp_path, monkeypatch, thread_type
):
    path = tmp_path / "noise.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:  # textured frames: a decoding slip shows
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(20):
            array = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    reference = read_video_frames(path, 6, "uniform")
    monkeypatch.setattr(video_io, "FFMPEG_THREAD_TYPE", thread_type)
    with video_io._opened(path) as (_, stream):
        expected = "SLICE" if thread_type is None else thread_type  # FFmpeg's own default
        assert stream.thread_type.name == expected
    assert torch.equal(read_video_frames(path, 6, "uniform"), reference)


@pytest.mark.parametrize("suffix", [".mkv", ".h264"])  # no frame count / no timestamps
@pytest.mark.parametrize("method", ["seek", "linear"])
def test_other_containers(tmp_path, suffix, method):
    path = tmp_path / f"clip{suffix}"
    write_colored(path, 20, gop=5)
    assert probe_num_frames(path) == 20
    frames = read_video_frames(path, 6, "middle", method=method)
    assert decoded_indices(frames, 20) == [1, 4, 7, 11, 14, 17]  # bounds 0,3,6,10,13,16,20


def test_variable_frame_rate_is_indexed_by_timestamp(tmp_path):
    # 10 ms and 90 ms gaps alternate: a constant-rate guess from the duration would miss
    pts, t = [], 0
    for i in range(12):
        pts.append(t)
        t += 10 if i % 2 == 0 else 90
    path = tmp_path / "vfr.mp4"
    write_colored(path, 12, pts_ms=pts)
    frames = read_video_frames(path, 12, "middle")
    assert decoded_indices(frames, 12) == list(range(12))
    assert decoded_indices(read_video_frames(path, 4, "middle"), 12) == [1, 4, 7, 10]


def test_short_clip_is_padded_and_odd_sizes_survive(tmp_path):
    path = tmp_path / "short.mp4"
    write_colored(path, 3, size=(33, 17), pix_fmt="yuv444p")
    frames = read_video_frames(path, 8, "rand", rng=np.random.default_rng(0))
    assert frames.shape == (8, 3, 17, 33)
    assert decoded_indices(frames, 3) == [0, 1, 2, 2, 2, 2, 2, 2]


def test_rotation_metadata_is_applied(tmp_path):
    path = tmp_path / "rotated.mp4"
    write_colored(path, 4, size=(48, 32), rotation=90)
    frames = read_video_frames(path, 2, "middle")
    # 90 degrees counter-clockwise: (H, W) = (32, 48) -> (48, 32), left stripe -> bottom rows
    assert frames.shape == (2, 3, 48, 32)
    rows = frames[0].float().mean(dim=(0, 2))
    assert rows[-10:].min() > 240 and rows[:30].max() < 200


def test_missing_corrupt_and_audio_only_files_raise_value_error(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        read_video_frames(tmp_path / "absent.mp4", 4)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x01 not a video " * 50)
    with pytest.raises(ValueError, match="bad.mp4"):
        read_video_frames(bad, 4)
    good = tmp_path / "good.mp4"
    write_colored(good, 16)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(ValueError):
        read_video_frames(truncated, 4)
    sound = tmp_path / "sound.wav"
    with av.open(str(sound), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in list(stream.encode(frame)) + list(stream.encode(None)):
            container.mux(packet)
    with pytest.raises(ValueError, match="no video stream"):
        read_video_frames(sound, 4)


# ---------------------------------------------------------------------------------------
# transforms
# ---------------------------------------------------------------------------------------
def test_center_crop_offsets_and_zero_padding():
    frames = torch.arange(2 * 3 * 5 * 7).view(2, 3, 5, 7).float()
    crop = center_crop(frames, 3)  # top = round(1.0) = 1, left = round(2.0) = 2
    assert torch.equal(crop, frames[..., 1:4, 2:5])
    crop4 = center_crop(frames, 4)  # top = round(0.5) = 0 (half to even), left = round(1.5) = 2
    assert torch.equal(crop4, frames[..., 0:4, 2:6])
    padded = center_crop(torch.ones(1, 3, 2, 3), 6)  # pad h 4 -> 2 top 2 bottom; w 3 -> 1, 2
    assert padded.shape == (1, 3, 6, 6)
    assert torch.equal(padded[0, 0].nonzero().unique(dim=0)[:, 0].unique(), torch.tensor([2, 3]))
    assert torch.equal(padded[0, 0].nonzero()[:, 1].unique(), torch.tensor([1, 2, 3]))


def test_eval_transform_normalises_and_permutes():
    frames = torch.zeros(4, 3, 10, 12, dtype=torch.uint8)
    frames[:, 0] = 255  # red channel full
    frames[2, 1] = 51  # frame 2 green = 0.2 -> (0.2 - 0.5) / 0.5 = -0.6
    out = video_to_tensor(frames, 8)
    assert out.shape == (3, 4, 8, 8) and out.dtype == torch.float32
    assert torch.all(out[0] == 1.0) and torch.all(out[2] == -1.0)
    assert torch.allclose(out[1, 2], torch.full((8, 8), -0.6))
    assert torch.all(out[1, [0, 1, 3]] == -1.0)
    assert torch.equal(video_to_tensor(frames, 8, train=True, augment=False), out)


def test_augmented_transform_is_shared_by_frames_and_seeded():
    rng = np.random.default_rng(0)
    frame = torch.from_numpy(rng.integers(0, 256, (1, 3, 20, 24), dtype=np.uint8))
    clip = frame.expand(5, 3, 20, 24).contiguous()
    for seed in range(8):
        a = video_to_tensor(clip, 16, train=True, augment=True, rng=np.random.default_rng(seed))
        b = video_to_tensor(clip, 16, train=True, augment=True, rng=np.random.default_rng(seed))
        assert a.shape == (3, 5, 16, 16) and torch.equal(a, b)
        assert a.min() >= -1.0 and a.max() <= 1.0
        for t in range(1, 5):  # identical input frames stay identical: one draw per clip
            assert torch.equal(a[:, t], a[:, 0])


def test_random_resized_crop_box_bounds():
    rng = np.random.default_rng(1)
    for _ in range(200):
        top, left, h, w = random_resized_crop_box(30, 40, rng)
        assert 0 <= top and top + h <= 30 and 0 <= left and left + w <= 40
        assert 0.5 * 1200 * 0.9 <= h * w <= 1200 and 0.7 <= w / h <= 1.4


def test_ops_by_hand():
    ramp = torch.arange(5.0).view(1, 1, 1, 5).expand(1, 3, 2, 5)
    shifted = apply_op(ramp, "translate_x", 2.0)  # out(x) = in(x - 2), zeros enter left
    assert torch.equal(shifted[0, 0, 0], torch.tensor([0.0, 0.0, 0.0, 1.0, 2.0]))
    values = torch.tensor([0.0, 100.0, 178.0, 179.0, 255.0]).view(1, 1, 1, 5).expand(1, 3, 1, 5)
    assert torch.equal(
        apply_op(values, "solarize", 178.5)[0, 0, 0], torch.tensor([0.0, 100.0, 178.0, 76.0, 0.0])
    )
    assert torch.equal(
        apply_op(values, "posterize", 7.0)[0, 0, 0], torch.tensor([0.0, 100.0, 178.0, 178.0, 254.0])
    )
    # histogram 10 x 10, 10 x 20, 20 x 30: step = (10 + 10) // 255 = 0 -> unchanged
    channel = torch.tensor([10.0] * 10 + [20.0] * 10 + [30.0] * 20).view(4, 10)
    assert torch.equal(equalize_channel(channel), channel)
    # 300 x 0, 300 x 1, 1 x 2: step = 600 // 255 = 2; lut[1] = (300 + 1) // 2 = 150,
    # lut[2] = (600 + 1) // 2 = 300 -> clamped 255
    channel = torch.tensor([0.0] * 300 + [1.0] * 300 + [2.0]).view(1, 601)
    out = equalize_channel(channel)
    assert out[0, 0] == 0 and out[0, 300] == 150 and out[0, 600] == 255


def test_geometric_and_colour_ops_by_hand():
    img = torch.arange(9.0).view(1, 1, 3, 3).expand(2, 3, 3, 3)
    # +90 degrees turns the content counter-clockwise: top-right goes to top-left
    assert torch.equal(apply_op(img, "rotate", 90.0), torch.rot90(img, 1, dims=(-2, -1)))
    sheared = apply_op(img, "shear_x", 1.0)  # out(x, y) = in(x + y, y), zeros outside
    assert torch.equal(sheared[0, 0], torch.tensor([[0.0, 1, 2], [4, 5, 0], [8, 0, 0]]))
    assert torch.equal(
        apply_op(img * 10, "brightness", 0.5)[0, 0, 0], torch.tensor([0.0, 15.0, 30.0])
    )
    stretched = apply_op(img + 100, "autocontrast", 0.0)  # 100..108 -> 0..255
    assert stretched[0, 0, 0, 0] == 0 and stretched[0, 0, 2, 2] == 255
    assert stretched[0, 0, 1, 1] == 127  # floor(4 * 255 / 8)


# ---------------------------------------------------------------------------------------
# decoding breadth: containers and codecs written here with PyAV
# ---------------------------------------------------------------------------------------
def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except av.FFmpegError:
        return False
    return True


@pytest.mark.parametrize(
    "suffix,codec",
    [
        (".mp4", "libx264"),
        (".webm", "libvpx-vp9"),
        (".webm", "libvpx"),
        (".avi", "mpeg4"),
        (".mkv", "libx264"),
    ],
)
@pytest.mark.parametrize("frames_in_clip", [5, 20])  # shorter and longer than the 8 sampled
def test_containers_and_codecs_decode_the_sampled_frames(tmp_path, suffix, codec, frames_in_clip):
    if not _has_encoder(codec):
        pytest.skip(f"this PyAV has no {codec} encoder")
    path = tmp_path / f"clip{suffix}"
    write_colored(path, frames_in_clip, codec=codec, size=(32, 24))
    frames = read_video_frames(path, 8, "middle")
    assert frames.shape == (8, 3, 24, 32) and frames.dtype == torch.uint8
    # middle sampling by hand: 20 frames -> bounds int(linspace(0, 20, 9)) = 0 2 5 7 10 12 15 17 20
    # -> (a + b - 1) // 2 per interval; 5 frames -> every frame, then the last one repeated
    expected = {5: [0, 1, 2, 3, 4, 4, 4, 4], 20: [0, 3, 5, 8, 10, 13, 15, 18]}[frames_in_clip]
    red = frames[:, 0].float().mean(dim=(1, 2))  # lossy VP8/VP9 shift colours a little more
    expected_red = torch.tensor([float(frame_color(i)[0]) for i in expected])
    assert (red - expected_red).abs().max() < 3.5  # neighbouring frames differ by 7
