"""The PANN log-mel front end stays fp32 under ``half()``.

The reference trainer keeps the STFT kernels and the mel filterbank in fp32 under --fp16;
``model.half()`` would otherwise round them. Expected values come from an fp32 copy of the
encoder (the same computation), and the size of the error a rounded filterbank would cause
is measured by rounding the weights by hand.
"""

import math

import pytest
import torch

from unival.models import build_model
from unival.models.backbones.pann import PannEncoder

FRONT_END = (
    "spectrogram_extractor.stft.conv_real.weight",
    "spectrogram_extractor.stft.conv_imag.weight",
    "logmel_extractor.melW",
)


def _waveform(seconds=0.25, rate=48000):
    t = torch.arange(int(seconds * rate), dtype=torch.float32) / rate
    return (0.5 * torch.sin(2 * math.pi * 440.0 * t) + 0.1 * torch.sin(2 * math.pi * 3100.0 * t))[
        None
    ]


def test_half_keeps_front_end_fp32_and_the_rest_half():
    encoder = PannEncoder("pann_cnn6", hop_size=200).half()
    params = dict(encoder.named_parameters())
    for name in FRONT_END:
        assert params[name].dtype == torch.float32, name
        assert params[name].requires_grad is False
    assert encoder.bn0.weight.dtype == torch.float16
    assert encoder.conv_block1.conv1.weight.dtype == torch.float16
    encoder.to(torch.bfloat16)
    assert dict(encoder.named_parameters())[FRONT_END[2]].dtype == torch.float32
    assert encoder.bn0.weight.dtype == torch.bfloat16


def test_log_mel_of_a_half_model_equals_the_fp32_one():
    reference = PannEncoder("pann_cnn6", hop_size=200).eval()
    half = PannEncoder("pann_cnn6", hop_size=200).eval()
    half.load_state_dict(reference.state_dict())
    half.half()
    wave = _waveform()
    got = half.log_mel(wave.half())
    assert got.dtype == torch.float32
    # the waveform itself is rounded to fp16 on the way in: compare with the same input
    torch.testing.assert_close(got, reference.log_mel(wave.half().float()), rtol=0, atol=0)
    torch.testing.assert_close(half.log_mel(wave), reference.log_mel(wave), rtol=0, atol=0)
    # what the guard prevents: rounding the front-end weights moves the log-mel
    expected = reference.log_mel(wave)
    rounded = PannEncoder("pann_cnn6", hop_size=200).eval()
    rounded.load_state_dict(reference.state_dict())
    with torch.no_grad():
        for name in FRONT_END:
            param = dict(rounded.named_parameters())[name]
            param.copy_(param.half().float())
    assert (rounded.log_mel(wave) - expected).abs().max() > 1e-3


def test_whole_model_half_keeps_the_audio_front_end_fp32():
    model = build_model("unival_tiny", 50, audio_encoder_name="pann_cnn6", hop_size=200).half()
    names = [n for n, p in model.named_parameters() if any(n.endswith(f) for f in FRONT_END)]
    assert len(names) == 3, names
    dtypes = {n: p.dtype for n, p in model.named_parameters()}
    assert all(dtypes[n] == torch.float32 for n in names)
    assert sum(d == torch.float16 for d in dtypes.values()) > 0.9 * len(dtypes)


@pytest.mark.gpu
def test_cuda_half_front_end_matches_fp32():
    reference = PannEncoder("pann_cnn6", hop_size=200).eval().cuda()
    half = PannEncoder("pann_cnn6", hop_size=200).eval()
    half.load_state_dict(reference.state_dict())
    half = half.cuda().half()
    assert dict(half.named_parameters())[FRONT_END[2]].device.type == "cuda"
    wave = _waveform().cuda().half()
    torch.testing.assert_close(half.log_mel(wave), reference.log_mel(wave.float()))
    out = half(wave)
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
