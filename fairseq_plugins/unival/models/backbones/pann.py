"""PANN audio encoders (Cnn6 / Cnn10 / Cnn14) as used by UnIVAL: the conv map, no classifier.

waveform (B, S) -> log-mel (B, 1, S//hop+1, mel_bins) -> ``bn0`` over the mel axis ->
[SpecAugment, training only] -> conv blocks with 2x2 average pooling -> (B, C, T', F').

* Cnn6: 4 x (5x5 conv + BN + ReLU + pool), 512 channels, T' = frames//16. It keeps the
  unused ``fc1`` / ``fc_audioset`` head so the reference state dict loads strictly.
* Cnn10: 5 x (two 3x3 conv+BN+ReLU + pool), 1024 channels, T' = frames//32.
* Cnn14: 6 such blocks, the last one without pooling, 2048 channels, T' = frames//32.

Dropout 0.2 follows every block but the last (training only). The front end always runs
in fp32 (autocast off); its output is cast to the dtype of ``bn0``.
"""

from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from .logmel import LogMelFilterBank, Spectrogram

PANN_CHANNELS = {"pann_cnn6": 512, "pann_cnn10": 1024, "pann_cnn14": 2048}


class ConvBlock5x5(nn.Module):
    """(B, Cin, T, F) -> (B, Cout, T/p, F/p): 5x5 conv (no bias) + BN + ReLU + avg-pool p."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 5, padding=2, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor, pool: int = 2) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        return F.avg_pool2d(x, pool) if pool > 1 else x


class ConvBlock(nn.Module):
    """(B, Cin, T, F) -> (B, Cout, T/p, F/p): two (3x3 conv + BN + ReLU), then avg-pool p."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor, pool: int = 2) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, pool) if pool > 1 else x


def drop_stripes(x: torch.Tensor, dim: int, max_width: int, n_stripes: int) -> torch.Tensor:
    """Zero ``n_stripes`` random stripes per sample along ``dim`` of x (B, C, T, F).

    Each stripe has a width drawn uniformly in [0, max_width) and a start in
    [0, size - width]; this is torchlibrosa's ``DropStripes``. Returns a new tensor.
    """
    size = x.shape[dim]
    keep = torch.ones(x.shape[0], size, dtype=torch.bool, device=x.device)
    for b in range(x.shape[0]):
        for _ in range(n_stripes):
            width = int(torch.randint(0, max(max_width, 1), (1,)))
            start = int(torch.randint(0, max(size - width, 0) + 1, (1,)))
            keep[b, start : start + width] = False
    shape = [x.shape[0], 1, 1, 1]
    shape[dim] = size
    return x * keep.view(shape).to(x.dtype)


def spec_augment(x: torch.Tensor) -> torch.Tensor:
    """2 time stripes of width < 64 and 2 mel stripes of width < 8, x: (B, 1, T, F)."""
    x = drop_stripes(x, dim=2, max_width=64, n_stripes=2)
    return drop_stripes(x, dim=3, max_width=8, n_stripes=2)


class PannEncoder(nn.Module):
    """Shared front end + ``bn0`` + the per-variant conv stack; see the module docstring.

    forward(waveform (B, S) float) -> (B, out_channels, T', F').
    """

    def __init__(
        self,
        variant: str,
        sample_rate: int = 48000,
        window_size: int = 1024,
        hop_size: int = 200,
        mel_bins: int = 64,
        fmin: int = 50,
        fmax: int = 14000,
        classes_num: int = 527,
        spec_augment: bool = True,
    ):
        super().__init__()
        if variant not in PANN_CHANNELS:
            raise ValueError(f"unknown audio encoder {variant!r}; expected {sorted(PANN_CHANNELS)}")
        self.variant = variant
        self.mel_bins = mel_bins
        self.hop_size = hop_size
        self.use_spec_augment = (
            spec_augment  # training-time stripes (the research code always applies them)
        )
        self.out_channels = PANN_CHANNELS[variant]
        self.spectrogram_extractor = Spectrogram(window_size, hop_size)
        self.logmel_extractor = LogMelFilterBank(sample_rate, window_size, mel_bins, fmin, fmax)
        self.bn0 = nn.BatchNorm2d(mel_bins)
        if variant == "pann_cnn6":
            widths, block = (64, 128, 256, 512), ConvBlock5x5
            self.pools = (2, 2, 2, 2)
        elif variant == "pann_cnn10":
            widths, block = (64, 128, 256, 512, 1024), ConvBlock
            self.pools = (2, 2, 2, 2, 2)
        else:
            widths, block = (64, 128, 256, 512, 1024, 2048), ConvBlock
            self.pools = (2, 2, 2, 2, 2, 1)
        in_ch = 1
        for idx, width in enumerate(widths):
            self.add_module(f"conv_block{idx + 1}", block(in_ch, width))
            in_ch = width
        if variant == "pann_cnn6":  # unused classifier head, kept for checkpoint names
            self.fc1 = nn.Linear(512, 512)
            self.fc_audioset = nn.Linear(512, classes_num)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.weight.requires_grad:
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """(B, S) -> (B, 1, S//hop + 1, mel_bins) log-mel in dB, fp32 (before ``bn0``)."""
        device_type = waveform.device.type
        no_autocast = (
            torch.autocast(device_type=device_type, enabled=False)
            if torch.amp.is_autocast_available(device_type)
            else nullcontext()
        )
        with no_autocast:
            return self.logmel_extractor(self.spectrogram_extractor(waveform))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = self.log_mel(waveform).to(self.bn0.weight.dtype)
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)  # normalise each mel bin
        if self.training and self.use_spec_augment:
            x = spec_augment(x)
        n_blocks = len(self.pools)
        for idx, pool in enumerate(self.pools):
            x = getattr(self, f"conv_block{idx + 1}")(x, pool)
            if idx < n_blocks - 1:
                x = F.dropout(x, p=0.2, training=self.training)
        return x
