"""Audio files -> mono float32 waveforms with PyAV, and the waveform steps of the original
audio loader.

:func:`read_audio` decodes any container/codec FFmpeg knows (wav, flac, mp3, aac in mp4, ...)
at the file's rate, scales integer samples as soundfile does (int16 / 32768), averages the
channels itself (FFmpeg's downmix would scale by about 1.41) and, when asked, resamples the
mono signal with FFmpeg's resampler (mono to mono: no scaling). :func:`int16_round_trip`
and :func:`pad_or_crop` are the dataset's next steps; :func:`write_audio` writes test and
toy-world files. Unreadable input raises ``ValueError`` with the reason.
"""

from __future__ import annotations

import fractions
import logging
import os

import av
import numpy as np

logger = logging.getLogger(__name__)

PAD_MODES = ("repeatpad", "pad", "repeat")
# file suffix -> encoder used by :func:`write_audio`
AUDIO_ENCODERS = {
    ".wav": "pcm_s16le",
    ".flac": "flac",
    ".mp3": "libmp3lame",
    ".m4a": "aac",
    ".mp4": "aac",
    ".aac": "aac",
    ".ogg": "libopus",
    ".opus": "libopus",
}
_INTEGER_SCALES = {
    np.dtype(np.uint8): 128.0,
    np.dtype(np.int16): 32768.0,
    np.dtype(np.int32): 2147483648.0,
    np.dtype(np.int64): 9223372036854775808.0,
}


def frame_to_channels(frame) -> np.ndarray:
    """Decoded audio frame -> float (channels, samples); integers scaled to [-1, 1)."""
    array = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:  # interleaved: (1, samples * channels)
        array = array.reshape(-1, channels).T
    if array.dtype == np.uint8:
        return (array.astype(np.float64) - 128.0) / 128.0
    scale = _INTEGER_SCALES.get(array.dtype)
    if scale is not None:
        return array.astype(np.float64) / scale
    return array.astype(np.float64)


def resample_mono(waveform: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """Mono float waveform (S,) at ``rate`` -> (about S * new_rate / rate,) float32 at
    ``new_rate`` (FFmpeg's band-limited resampler; time-aligned, unit gain)."""
    if rate == new_rate or waveform.size == 0:
        return waveform.astype(np.float32)
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=new_rate)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(waveform, np.float32)[None, :], format="fltp", layout="mono"
    )
    frame.sample_rate = rate
    frame.pts = 0
    frame.time_base = fractions.Fraction(1, rate)
    pieces = [out.to_ndarray()[0] for out in resampler.resample(frame)]
    pieces += [out.to_ndarray()[0] for out in resampler.resample(None)]
    return np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, np.float32)


def read_audio(path: str | os.PathLike, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """The first audio stream of ``path`` -> (mono float32 waveform (S,), rate).

    Channels are averaged; with ``sample_rate`` the mono signal is resampled to it (and
    that rate is returned). ValueError when the file is missing, unreadable or silent-empty.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"audio file not found: {path}")
    try:
        container = av.open(path, mode="r")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise ValueError(f"file {path} is not a readable audio file ({error})") from None
    try:
        if not container.streams.audio:
            raise ValueError(f"file {path} has no audio stream")
        stream = container.streams.audio[0]
        rate = stream.sample_rate or stream.codec_context.sample_rate
        pieces = []
        for frame in container.decode(stream):
            if frame.sample_rate and rate and frame.sample_rate != rate:
                raise ValueError(
                    f"file {path}: sample rate changes inside the stream "
                    f"({rate} -> {frame.sample_rate})"
                )
            rate = rate or frame.sample_rate
            pieces.append(frame_to_channels(frame).mean(axis=0))
    except av.FFmpegError as error:
        raise ValueError(f"file {path} could not be decoded ({error})") from None
    finally:
        container.close()
    if not pieces or not rate:
        raise ValueError(f"file {path} holds no audio samples")
    waveform = np.concatenate(pieces).astype(np.float32)
    if waveform.size == 0:
        raise ValueError(f"file {path} holds no audio samples")
    if sample_rate is not None and sample_rate != rate:
        waveform = resample_mono(waveform, rate, int(sample_rate))
        rate = int(sample_rate)
    return waveform, int(rate)


def int16_round_trip(waveform: np.ndarray) -> np.ndarray:
    """Clip to [-1, 1], scale by 32767, cast to int16 (truncating, as ``astype`` does in the
    reference) and divide by 32767 again -> float32 of the same shape."""
    clipped = np.clip(np.asarray(waveform, dtype=np.float32), -1.0, 1.0)
    return ((clipped * 32767.0).astype(np.int16) / 32767.0).astype(np.float32)


def pad_or_crop(
    waveform: np.ndarray,
    length: int,
    rng: np.random.Generator | None = None,
    mode: str = "repeatpad",
) -> np.ndarray:
    """(S,) -> (length,) float32.

    Longer: a random window (start uniform in ``[0, S - length]``). Shorter: ``"repeatpad"``
    tiles the clip ``length // S`` times then zero-pads; ``"pad"`` zero-pads only;
    ``"repeat"`` tiles until full and cuts.
    """
    if mode not in PAD_MODES:
        raise ValueError(f"unknown pad mode {mode!r} (one of {PAD_MODES})")
    waveform = np.asarray(waveform, dtype=np.float32).reshape(-1)
    size = waveform.shape[0]
    if size == 0:
        raise ValueError("empty waveform")
    if size > length:
        rng = rng if rng is not None else np.random.default_rng()
        start = int(rng.integers(0, size - length + 1))
        return waveform[start : start + length].copy()
    if mode == "repeatpad":
        waveform = np.tile(waveform, length // size)
    elif mode == "repeat":
        waveform = np.tile(waveform, -(-length // size))[:length]
    return np.pad(waveform, (0, length - waveform.shape[0]))


def write_audio(
    path: str | os.PathLike, waveform: np.ndarray, sample_rate: int, codec: str | None = None
) -> None:
    """Write float ``waveform`` (S,) or (channels, S) in [-1, 1] to ``path``; the encoder
    comes from the suffix (:data:`AUDIO_ENCODERS`) unless ``codec`` names one."""
    path = os.fspath(path)
    data = np.clip(np.atleast_2d(np.asarray(waveform, dtype=np.float32)), -1.0, 1.0)
    channels = data.shape[0]
    if channels not in (1, 2):
        raise ValueError(f"only mono or stereo can be written, got {channels} channels")
    codec = codec or AUDIO_ENCODERS.get(os.path.splitext(path)[1].lower())
    if codec is None:
        raise ValueError(f"no audio encoder known for {path}")
    layout = "mono" if channels == 1 else "stereo"
    with av.open(path, mode="w") as container:
        stream = container.add_stream(codec, rate=sample_rate, layout=layout)
        sample_format = stream.codec_context.format or av.AudioFormat("s16")
        chunk = stream.codec_context.frame_size or 4096
        for start in range(0, data.shape[1], chunk):
            frame = _make_frame(data[:, start : start + chunk], sample_format, layout)
            frame.sample_rate = sample_rate
            frame.pts = start
            frame.time_base = fractions.Fraction(1, sample_rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _make_frame(block: np.ndarray, sample_format, layout: str):
    """(channels, n) float block -> an AudioFrame in the encoder's sample format."""
    name = sample_format.name
    base = name.rstrip("p")
    if base in ("flt", "dbl"):
        values = block.astype(np.float32 if base == "flt" else np.float64)
    elif base == "s16":
        values = np.round(block * 32767.0).astype(np.int16)
    elif base == "s32":
        values = np.round(block.astype(np.float64) * 2147483647.0).astype(np.int32)
    else:
        raise ValueError(f"unsupported encoder sample format {name}")
    if not sample_format.is_planar:
        values = values.T.reshape(1, -1)
    return av.AudioFrame.from_ndarray(np.ascontiguousarray(values), format=name, layout=layout)
