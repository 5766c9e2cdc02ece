"""Log-mel front end of the PANN audio encoders (torchlibrosa-compatible names and numerics).

* :class:`Spectrogram` - centred STFT written as two conv1d layers (``stft.conv_real`` and
  ``stft.conv_imag``, weights (n_fft//2+1, 1, n_fft) = Re/Im of the DFT matrix times a
  periodic Hann window), returning the power spectrogram.
* :class:`LogMelFilterBank` - ``power @ melW`` then ``10*log10(clamp(x, amin))``; ``melW``
  (n_fft//2+1, n_mels) is a Slaney-scale, Slaney-normalised mel filterbank (the default of
  ``librosa.filters.mel``), computed here in float64 and stored fp32.

Both hold their constants as frozen ``nn.Parameter`` (requires_grad False) so that the
names match the released checkpoints. They always compute in fp32, and they STAY fp32 under
``model.half()`` / ``.to(torch.bfloat16)`` (:class:`Float32Module`), as the reference trainer
keeps them under ``--fp16``: a half-precision STFT kernel or mel filterbank
would shift the log-mel by far more than the fp16 rounding of the activations.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

_SLANEY_F_SP = 200.0 / 3.0  # Hz per mel below 1 kHz
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP  # = 15
_SLANEY_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel_slaney(freqs) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above."""
    freqs = np.asarray(freqs, dtype=np.float64)
    mels = freqs / _SLANEY_F_SP
    log_part = freqs >= _SLANEY_MIN_LOG_HZ
    mels = np.where(
        log_part,
        _SLANEY_MIN_LOG_MEL
        + np.log(np.maximum(freqs, 1e-300) / _SLANEY_MIN_LOG_HZ) / _SLANEY_LOGSTEP,
        mels,
    )
    return mels


def mel_to_hz_slaney(mels) -> np.ndarray:
    """Inverse of :func:`hz_to_mel_slaney`."""
    mels = np.asarray(mels, dtype=np.float64)
    freqs = _SLANEY_F_SP * mels
    log_part = mels >= _SLANEY_MIN_LOG_MEL
    return np.where(
        log_part, _SLANEY_MIN_LOG_HZ * np.exp(_SLANEY_LOGSTEP * (mels - _SLANEY_MIN_LOG_MEL)), freqs
    )


def slaney_mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float
) -> np.ndarray:
    """Triangular mel filters, (n_mels, n_fft//2+1) float32, each of unit area (Slaney norm).

    Band i rises from edge i to edge i+1 and falls to edge i+2, the n_mels+2 edges being
    equally spaced on the Slaney mel scale between ``fmin`` and ``fmax``. The triangles are
    rounded to fp32 before the area normalisation, as librosa does with ``dtype=float32``.
    """
    fft_freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges_mel = np.linspace(hz_to_mel_slaney(fmin), hz_to_mel_slaney(fmax), n_mels + 2)
    edges_hz = mel_to_hz_slaney(edges_mel)
    widths = np.diff(edges_hz)
    offsets = edges_hz[:, None] - fft_freqs[None, :]  # (n_mels+2, n_freq)
    rising = -offsets[:n_mels] / widths[:n_mels, None]
    falling = offsets[2:] / widths[1:, None]
    triangles = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    area_norm = 2.0 / (edges_hz[2:] - edges_hz[:n_mels])
    return (triangles.astype(np.float64) * area_norm[:, None]).astype(np.float32)


def stft_kernels(n_fft: int) -> tuple:
    """(real, imag) conv1d weights, each (n_fft//2+1, 1, n_fft) float32.

    real[k, 0, n] = cos(2 pi k n / N) w[n], imag[k, 0, n] = -sin(2 pi k n / N) w[n], with
    w the periodic Hann window 0.5 - 0.5 cos(2 pi n / N); built in float64.
    """
    n = np.arange(n_fft)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / n_fft)
    k = np.arange(n_fft // 2 + 1)
    phase = 2.0 * np.pi * ((k[:, None] * n[None, :]) % n_fft) / n_fft
    real = np.cos(phase) * window[None, :]
    imag = -np.sin(phase) * window[None, :]
    return (
        torch.from_numpy(real.astype(np.float32))[:, None, :],
        torch.from_numpy(imag.astype(np.float32))[:, None, :],
    )


class Float32Module(nn.Module):
    """A module whose floating-point parameters and buffers are always fp32: dtype casts
    (``half()``, ``bfloat16()``, ``to(dtype)``) are undone, device moves still apply."""

    def _apply(self, fn, recurse=True):
        def keep_float32(tensor):
            out = fn(tensor)
            if torch.is_tensor(out) and out.is_floating_point() and out.dtype != torch.float32:
                # the cast rounded: take the original values, only on the new device
                return tensor.to(device=out.device, dtype=torch.float32)
            return out

        return super()._apply(keep_float32, recurse)


def _frozen(tensor: torch.Tensor) -> nn.Parameter:
    return nn.Parameter(tensor, requires_grad=False)


class STFTConv(Float32Module):
    """Holds the two frozen DFT convolutions (``conv_real``, ``conv_imag``)."""

    def __init__(self, n_fft: int, hop_size: int):
        super().__init__()
        n_freq = n_fft // 2 + 1
        real, imag = stft_kernels(n_fft)
        self.conv_real = nn.Conv1d(1, n_freq, n_fft, stride=hop_size, bias=False)
        self.conv_imag = nn.Conv1d(1, n_freq, n_fft, stride=hop_size, bias=False)
        self.conv_real.weight = _frozen(real)
        self.conv_imag.weight = _frozen(imag)


class Spectrogram(Float32Module):
    """waveform (B, S) -> power spectrogram (B, 1, S//hop + 1, n_fft//2+1), fp32.

    Centred: the waveform is reflect-padded by n_fft//2 on both sides (needs S > n_fft//2).
    """

    def __init__(self, n_fft: int = 1024, hop_size: int = 200):
        super().__init__()
        self.n_fft = n_fft
        self.hop_size = hop_size
        self.stft = STFTConv(n_fft, hop_size)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = waveform.float()[:, None, :]
        pad = self.n_fft // 2
        x = F.pad(x, (pad, pad), mode="reflect")
        real = F.conv1d(x, self.stft.conv_real.weight.float(), stride=self.hop_size)
        imag = F.conv1d(x, self.stft.conv_imag.weight.float(), stride=self.hop_size)
        power = real**2 + imag**2  # (B, n_freq, frames)
        return power.transpose(1, 2)[:, None, :, :]


class LogMelFilterBank(Float32Module):
    """power (B, 1, T, n_fft//2+1) -> log-mel in dB (B, 1, T, n_mels), fp32.

    dB = 10*log10(max(power @ melW, amin)) (reference power 1, no top_db clipping).
    """

    def __init__(
        self,
        sample_rate: int = 48000,
        n_fft: int = 1024,
        n_mels: int = 64,
        fmin: float = 50.0,
        fmax: float = 14000.0,
        amin: float = 1e-10,
    ):
        super().__init__()
        self.amin = amin
        bank = slaney_mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)
        self.melW = _frozen(torch.from_numpy(np.ascontiguousarray(bank.T)))

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        mel = torch.matmul(power.float(), self.melW.float())
        return 10.0 * torch.log10(torch.clamp(mel, min=self.amin))
