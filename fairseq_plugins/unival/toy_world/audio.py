"""Toy-world audio clips: steady tones (low/high), chirps (rising/falling), noise bursts and
rhythms of 1-4 beeps (low/high), with captions such as "two high beeps".

An :class:`AudioClip` is plain data; :func:`synthesize_clip` turns it into a waveform (the
noise comes from a seed stored in the clip, so the samples are reproducible).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

import numpy as np

KINDS = ("tone", "chirp", "noise", "beeps")
PITCHES = {"low": (200.0, 400.0), "high": (1200.0, 2000.0)}  # Hz ranges
CHIRP_RANGE = (300.0, 2000.0)  # Hz, swept linearly over the sounding part
SAMPLE_RATES = (16000, 22050, 32000, 44100, 48000)
DURATIONS = (1.0, 1.25, 1.5, 1.75, 2.0)  # seconds
FORMATS = (".wav", ".flac")
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}
TIMES_WORDS = {1: "once", 2: "two times", 3: "three times", 4: "four times"}
BEEP_SECONDS = 0.1
BEEP_GAP_SECONDS = 0.12
LEAD_SECONDS = 0.1  # silence before the first beep / the burst / the tone
FADE_SECONDS = 0.01


@dataclass
class AudioClip:
    """Ground truth of a clip: ``kind`` plus the attributes it uses (``pitch`` for tones and
    beeps, ``direction`` for chirps, ``count`` for beeps); ``frequency`` in Hz for tones and
    beeps; ``noise_seed`` drives the noise burst."""

    clip_id: int
    kind: str
    sample_rate: int
    duration: float
    amplitude: float
    file_format: str
    pitch: str | None = None
    direction: str | None = None
    count: int | None = None
    frequency: float | None = None
    noise_seed: int | None = None

    @property
    def num_samples(self) -> int:
        return int(round(self.duration * self.sample_rate))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "AudioClip":
        return cls(**data)


def sample_audio_clip(rng: random.Random, clip_id: int) -> AudioClip:
    """Draw a clip kind and its attributes, rate (16-48 kHz), length (1-2 s) and format."""
    kind = rng.choice(KINDS)
    clip = AudioClip(
        clip_id,
        kind,
        rng.choice(SAMPLE_RATES),
        rng.choice(DURATIONS),
        round(rng.uniform(0.3, 0.6), 3),
        rng.choice(FORMATS),
    )
    if kind in ("tone", "beeps"):
        clip.pitch = rng.choice(list(PITCHES))
        clip.frequency = round(rng.uniform(*PITCHES[clip.pitch]), 1)
    if kind == "beeps":
        clip.count = rng.randint(1, 4)
    if kind == "chirp":
        clip.direction = rng.choice(("rising", "falling"))
    if kind == "noise":
        clip.noise_seed = rng.getrandbits(32)
    return clip


def _envelope(num_samples: int, rate: int, start: int, stop: int) -> np.ndarray:
    """1 on [start, stop) with raised-cosine fades of FADE_SECONDS inside it, 0 elsewhere."""
    env = np.zeros(num_samples)
    length = max(0, min(stop, num_samples) - start)
    if length == 0:
        return env
    fade = min(int(FADE_SECONDS * rate), length // 2)
    window = np.ones(length)
    if fade > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
        window[:fade], window[length - fade :] = ramp, ramp[::-1]
    env[start : start + length] = window
    return env


def sounding_span(clip: AudioClip) -> tuple[int, int]:
    """Sample range of the sound (tones and chirps fill the clip after a short lead; noise is
    a 0.4 s burst; beeps end after the last beep)."""
    rate, total = clip.sample_rate, clip.num_samples
    start = int(LEAD_SECONDS * rate)
    if clip.kind == "noise":
        return start, min(total, start + int(0.4 * rate))
    if clip.kind == "beeps":
        stop = start + int(clip.count * (BEEP_SECONDS + BEEP_GAP_SECONDS) * rate)
        return start, min(total, stop)
    return start, total - int(LEAD_SECONDS * rate)


def beep_starts(clip: AudioClip) -> list[int]:
    """Sample index where each beep begins."""
    start = int(LEAD_SECONDS * clip.sample_rate)
    period = int((BEEP_SECONDS + BEEP_GAP_SECONDS) * clip.sample_rate)
    return [start + k * period for k in range(clip.count or 0)]


def synthesize_clip(clip: AudioClip) -> np.ndarray:
    """(num_samples,) float32 mono waveform in [-amplitude, amplitude]."""
    rate, total = clip.sample_rate, clip.num_samples
    t = np.arange(total) / rate
    start, stop = sounding_span(clip)
    if clip.kind == "tone":
        wave = np.sin(2 * np.pi * clip.frequency * t) * _envelope(total, rate, start, stop)
    elif clip.kind == "chirp":
        low, high = CHIRP_RANGE
        f0, f1 = (low, high) if clip.direction == "rising" else (high, low)
        local = np.clip(t - start / rate, 0.0, None)
        span = (stop - start) / rate
        phase = 2 * np.pi * (f0 * local + (f1 - f0) * local**2 / (2 * span))
        wave = np.sin(phase) * _envelope(total, rate, start, stop)
    elif clip.kind == "noise":
        noise = np.random.default_rng(clip.noise_seed).uniform(-1.0, 1.0, total)
        wave = noise * _envelope(total, rate, start, stop)
    elif clip.kind == "beeps":
        env = sum(
            _envelope(total, rate, b, b + int(BEEP_SECONDS * rate)) for b in beep_starts(clip)
        )
        wave = np.sin(2 * np.pi * clip.frequency * t) * env
    else:
        raise ValueError(f"unknown audio clip kind {clip.kind!r}")
    return (clip.amplitude * wave).astype(np.float32)


def audio_captions(clip: AudioClip) -> list[str]:
    """Three phrasings, e.g. "two high beeps", "a rising chirp"."""
    if clip.kind == "tone":
        return [
            f"a steady {clip.pitch} tone",
            f"a {clip.pitch} pitched tone",
            f"a continuous {clip.pitch} sound",
        ]
    if clip.kind == "chirp":
        ends = "from low to high" if clip.direction == "rising" else "from high to low"
        return [
            f"a {clip.direction} chirp",
            f"a tone {clip.direction} in pitch",
            f"a sweep {ends} pitch",
        ]
    if clip.kind == "noise":
        return ["a burst of noise", "a short noise burst", "a hiss of white noise"]
    plural = "s" if clip.count > 1 else ""
    number = NUMBER_WORDS[clip.count]
    return [
        f"{number} {clip.pitch} beep{plural}",
        f"{number} short {clip.pitch} pitched beep{plural}",
        f"a {clip.pitch} beep heard {TIMES_WORDS[clip.count]}",
    ]


def audio_vocabulary_texts() -> list[str]:
    """Texts holding every word an audio caption can use."""
    texts = [f"a steady {p} pitched tone continuous sound beep beeps heard short" for p in PITCHES]
    texts += [
        "a rising falling chirp tone in pitch sweep from low to high",
        "a burst of noise short noise burst hiss of white",
    ]
    texts += list(NUMBER_WORDS.values()) + list(TIMES_WORDS.values()) + ["once"]
    return texts
