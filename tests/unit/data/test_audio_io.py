"""Audio reading (channel averaging, codecs, resampling, bad files) and waveform steps."""

import wave

import av
import numpy as np
import pytest

from unival.data.io.audio import int16_round_trip, pad_or_crop, read_audio, write_audio


def write_wav_int16(path, channels: np.ndarray, rate: int) -> None:
    """(C, S) int16 samples -> PCM wav with the standard library (independent of PyAV)."""
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels.shape[0])
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(np.ascontiguousarray(channels.T).astype("<i2").tobytes())


def write_with_pyav(path, samples_int16: np.ndarray, rate: int, codec: str) -> None:
    """Mono int16 samples -> ``codec`` through PyAV's encoder directly."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples_int16[None, :], format="s16", layout="mono")
        frame.sample_rate, frame.pts = rate, 0
        for packet in list(stream.encode(frame)) + list(stream.encode(None)):
            container.mux(packet)


def peak_frequency(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum)) * rate / len(x)


def test_stereo_wav_is_the_exact_mean_of_its_channels(tmp_path):
    rng = np.random.default_rng(0)
    left = rng.integers(-32768, 32767, 1000).astype(np.int16)
    right = rng.integers(-32768, 32767, 1000).astype(np.int16)
    path = tmp_path / "stereo.wav"
    write_wav_int16(path, np.stack([left, right]), 8000)
    x, rate = read_audio(path)
    expected = (left.astype(np.float64) / 32768 + right.astype(np.float64) / 32768) / 2
    assert rate == 8000 and x.dtype == np.float32 and x.shape == (1000,)
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-7)
    # opposite channels cancel: a downmix that scales or keeps one channel would not
    write_wav_int16(path, np.stack([left // 2, -(left // 2)]), 8000)
    assert np.abs(read_audio(path)[0]).max() == 0.0


def test_flac_tone_has_its_rate_length_and_samples(tmp_path):
    rate = 22050
    t = np.arange(int(1.5 * rate)) / rate
    samples = np.round(0.8 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    path = tmp_path / "tone.flac"
    write_with_pyav(path, samples, rate, "flac")
    x, got_rate = read_audio(path)
    assert got_rate == rate and x.shape == (33075,)
    np.testing.assert_allclose(x, samples / 32768.0, atol=1e-7)  # flac is lossless
    assert abs(peak_frequency(x, rate) - 440) < 1.5


@pytest.mark.parametrize("rate,new_rate", [(44100, 48000), (16000, 48000), (48000, 16000)])
def test_resampling_keeps_frequency_amplitude_and_duration(tmp_path, rate, new_rate):
    t = np.arange(rate) / rate
    samples = np.round(32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    path = tmp_path / "tone.wav"
    write_wav_int16(path, np.stack([samples, samples]), rate)
    x, got_rate = read_audio(path, sample_rate=new_rate)
    assert got_rate == new_rate and abs(len(x) - new_rate) <= 2
    assert abs(peak_frequency(x, new_rate) - 440) < 1.5
    middle = x[new_rate // 4 : 3 * new_rate // 4]
    assert abs(np.abs(middle).max() - 1.0) < 0.02
    # in phase with the original: sample k at new_rate is sin(2 pi 440 k / new_rate)
    k = np.arange(new_rate // 4, 3 * new_rate // 4)
    np.testing.assert_allclose(middle, np.sin(2 * np.pi * 440 * k / new_rate), atol=0.02)


def test_lossy_codecs_decode_when_their_encoders_exist(tmp_path):
    t = np.arange(16000) / 16000
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    for name, codec in (("tone.m4a", "aac"), ("tone.mp3", "libmp3lame")):
        try:
            av.codec.Codec(codec, "w")
        except av.FFmpegError:
            continue
        write_audio(tmp_path / name, tone, 16000)
        x, rate = read_audio(tmp_path / name)
        assert rate == 16000 and abs(len(x) - 16000) < 2048
        assert abs(peak_frequency(x, rate) - 440) < 2
        assert 0.4 < np.abs(x[4000:12000]).max() < 0.6


def test_write_audio_wav_round_trip(tmp_path):
    stereo = np.stack([np.linspace(-1, 1, 101), np.zeros(101)])
    write_audio(tmp_path / "s.wav", stereo, 8000)
    x, rate = read_audio(tmp_path / "s.wav")
    np.testing.assert_allclose(x, np.round(stereo[0] * 32767) / 32768 / 2, atol=1e-7)


def test_missing_corrupt_and_silent_files_raise_value_error(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        read_audio(tmp_path / "absent.wav")
    bad = tmp_path / "bad.flac"
    bad.write_bytes(b"fLaC but then nothing sensible" * 10)
    with pytest.raises(ValueError, match="bad.flac"):
        read_audio(bad)
    empty = tmp_path / "empty.wav"
    write_wav_int16(empty, np.zeros((1, 0), np.int16), 8000)
    with pytest.raises(ValueError, match="no audio samples"):
        read_audio(empty)


def test_int16_round_trip_by_hand():
    x = np.array([0.5, -0.5, 1.5, -2.0, 1e-5, 0.99999])
    expected = np.array([16383, -16383, 32767, -32767, 0, 32766]) / 32767.0
    out = int16_round_trip(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected.astype(np.float32), rtol=0, atol=0)


def test_pad_or_crop_by_hand():
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(pad_or_crop(x, 8), [1, 2, 3, 1, 2, 3, 0, 0])
    np.testing.assert_array_equal(pad_or_crop(x, 8, mode="pad"), [1, 2, 3, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(pad_or_crop(x, 8, mode="repeat"), [1, 2, 3, 1, 2, 3, 1, 2])
    np.testing.assert_array_equal(pad_or_crop(x, 3), x)
    np.testing.assert_array_equal(pad_or_crop(x, 5), [1, 2, 3, 0, 0])  # 5 // 3 = 1 copy
    starts = set()
    for seed in range(100):
        window = pad_or_crop(np.arange(10.0), 4, np.random.default_rng(seed))
        assert window.dtype == np.float32
        np.testing.assert_array_equal(window, np.arange(window[0], window[0] + 4))
        starts.add(int(window[0]))
    assert starts == set(range(7))
    with pytest.raises(ValueError):
        pad_or_crop(np.zeros(0), 4)
    with pytest.raises(ValueError):
        pad_or_crop(x, 4, mode="mirror")


# ---------------------------------------------------------------------------------------
# decoding breadth: containers, codecs, rates and channel counts written here with PyAV
# ---------------------------------------------------------------------------------------
def write_tone_with_pyav(
    path, codec: str, rate: int, channels: int, seconds: float = 0.5, frequency: float = 440.0
) -> np.ndarray:
    """A tone (channel c at amplitude 0.2 * (c + 1)) encoded with ``codec``; returns the mono
    mean the reader should give, (S,) float."""
    t = np.arange(int(rate * seconds)) / rate
    planes = np.stack([0.2 * (c + 1) * np.sin(2 * np.pi * frequency * t) for c in range(channels)])
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
    with av.open(str(path), "w") as container:
        options = {"strict": "experimental"} if codec == "vorbis" else {}  # FFmpeg's own Vorbis
        stream = container.add_stream(codec, rate=rate, layout=layout, options=options)
        fmt = stream.codec_context.codec.audio_formats[0].name
        frame_size = stream.codec_context.frame_size or 1024
        samples = planes.astype(np.float32)
        pts = 0
        for start in range(0, samples.shape[1], frame_size):
            block = samples[:, start : start + frame_size]
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(block), format="fltp", layout=layout
            )
            frame.sample_rate, frame.pts = rate, pts
            pts += block.shape[1]
            resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
            for converted in resampler.resample(frame):
                for packet in stream.encode(converted):
                    container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return planes.mean(axis=0)


@pytest.mark.parametrize(
    "suffix,codec,rate,channels,lossless",
    [
        (".wav", "pcm_s16le", 8000, 1, True),
        (".wav", "pcm_s16le", 44100, 2, True),
        (".wav", "pcm_f32le", 22050, 6, True),
        (".flac", "flac", 16000, 2, True),
        (".flac", "flac", 48000, 1, True),
        (".ogg", "libopus", 48000, 2, False),
        (".ogg", "vorbis", 44100, 2, False),
        (".mp3", "libmp3lame", 22050, 1, False),
        (".mp3", "libmp3lame", 44100, 2, False),
    ],
)
def test_containers_codecs_rates_and_channels(tmp_path, suffix, codec, rate, channels, lossless):
    try:
        av.codec.Codec(codec, "w")
    except av.FFmpegError:
        pytest.skip(f"this PyAV has no {codec} encoder")
    path = tmp_path / f"tone_{rate}_{channels}{suffix}"
    expected = write_tone_with_pyav(path, codec, rate, channels)
    x, got_rate = read_audio(path)
    assert got_rate == rate and x.dtype == np.float32
    amplitude = 0.2 * (channels + 1) / 2  # mean of 0.2, 0.4, ... over the channels
    if lossless:
        assert len(x) == len(expected)
        np.testing.assert_allclose(x, expected, atol=1.0 / 32768 * channels + 1e-6)
    else:  # codec delay and padding: compare the tone's pitch and level in the middle
        assert abs(len(x) - len(expected)) < 4096
        middle = x[len(x) // 4 : 3 * len(x) // 4]
        assert abs(peak_frequency(middle, rate) - 440) < 10
        assert 0.8 * amplitude < np.abs(middle).max() < 1.2 * amplitude
    resampled, new_rate = read_audio(path, 16000)
    assert new_rate == 16000 and abs(len(resampled) - len(x) * 16000 / rate) < 2048
