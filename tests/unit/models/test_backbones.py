"""CNN backbones: checkpoint names/shapes, output grids, audio numerics, BN and drop-path."""

import json
import math

import pytest
import torch

from unival.models.backbones import (
    build_audio_backbone,
    build_image_backbone,
    build_video_backbone,
    load_pretrained_backbone,
)
from unival.models.backbones.common import drop_path
from unival.models.backbones.pann import drop_stripes


def _sub_state(state: dict, prefix: str) -> dict:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def _meta_forward(module, shape):
    """Output shape of ``module`` for an input of ``shape``, computed without arithmetic."""
    module = module.to("meta").eval()
    with torch.no_grad():
        return tuple(module(torch.empty(shape, device="meta")).shape)


# --------------------------------------------------------------------------- names / shapes
FULL_SIZE = [
    ("encoder.embed_images.", lambda: build_image_backbone("timm_resnet", "resnet101"), 44_549_160),
    ("encoder.embed_videos.", lambda: build_video_backbone("all_resnext101"), 47_521_216),
    ("encoder.embed_audios.", lambda: build_audio_backbone("pann_cnn14"), 76_560_896),
]


@pytest.mark.parametrize("prefix,build,n_params", FULL_SIZE, ids=["image", "video", "audio"])
def test_full_size_names_shapes_and_param_counts(parity_dir, prefix, build, n_params):
    shapes = json.loads((parity_dir / "unival_base_param_shapes.json").read_text())["shapes"]
    expected = {k[len(prefix) :]: tuple(v) for k, v in shapes.items() if k.startswith(prefix)}
    with torch.device("meta"):
        module = build()
    got = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    assert set(got) == set(expected)
    assert got == expected
    # the reference model's parameter count (front-end constants included, buffers not)
    assert sum(p.numel() for p in module.parameters()) == n_params
    assert module.out_channels == 2048


def test_default_depths_follow_resnet_type():
    with torch.device("meta"):
        timm152 = build_image_backbone("timm_resnet", "resnet152")
        ofa101 = build_image_backbone("resnet", "resnet101")
        video50 = build_video_backbone("resnext50")
    assert [len(getattr(timm152, f"layer{i}")) for i in (1, 2, 3, 4)] == [3, 8, 36, 3]
    assert [len(getattr(ofa101, f"layer{i}")) for i in (1, 2, 3)] == [3, 4, 23]
    assert not hasattr(ofa101, "layer4") and not hasattr(ofa101, "fc")
    assert [len(getattr(video50, f"layer{i}")) for i in (1, 2, 3)] == [3, 4, 6]
    assert not hasattr(video50, "layer4")
    assert (ofa101.out_channels, video50.out_channels) == (1024, 1024)


def test_bad_names_and_layer_overrides_are_rejected():
    with pytest.raises(ValueError):
        build_image_backbone("vit", "resnet50")
    with pytest.raises(ValueError):
        build_image_backbone("timm_resnet", "resnet18")
    with pytest.raises(ValueError):
        build_image_backbone("resnet", "resnet50", layers=[1, 1, 1, 1])
    with pytest.raises(ValueError):
        build_video_backbone("all_resnext101", layers=[1, 1, 1])
    with pytest.raises(ValueError):
        build_audio_backbone("pann_cnn12")


def test_fixture_backbones_load_strictly(parity_dir):
    state = torch.load(parity_dir / "model_state_dict.pt", weights_only=True)
    image = build_image_backbone("resnet", "resnet50", layers=[1, 1, 1])
    image.load_state_dict(_sub_state(state, "encoder.embed_images."), strict=True)
    video = build_video_backbone("resnext50", layers=[1, 1, 1])
    video.load_state_dict(_sub_state(state, "encoder.embed_videos."), strict=True)
    audio_state = torch.load(parity_dir / "audio_model_state_dict.pt", weights_only=True)
    audio = build_audio_backbone("pann_cnn6")
    audio.load_state_dict(_sub_state(audio_state, "encoder.embed_audios."), strict=True)
    assert (image.out_channels, video.out_channels, audio.out_channels) == (1024, 1024, 512)


# --------------------------------------------------------------------------- output grids
def test_image_output_grids():
    timm = build_image_backbone("timm_resnet", "resnet101")
    assert _meta_forward(timm, (2, 3, 384, 384)) == (2, 2048, 12, 12)
    assert _meta_forward(timm, (1, 3, 480, 480)) == (1, 2048, 15, 15)
    ofa = build_image_backbone("resnet", "resnet50", layers=[1, 1, 1]).eval()
    with torch.no_grad():  # a real (small) forward too
        assert tuple(ofa(torch.randn(1, 3, 256, 256)).shape) == (1, 1024, 16, 16)
    small_timm = build_image_backbone("timm_resnet", "resnet50", layers=[1, 1, 1, 1]).eval()
    with torch.no_grad():
        assert tuple(small_timm(torch.randn(1, 3, 64, 96)).shape) == (1, 2048, 2, 3)


def test_video_output_grids():
    video = build_video_backbone("all_resnext101")
    assert _meta_forward(video, (1, 3, 8, 224, 224)) == (1, 2048, 1, 7, 7)
    assert _meta_forward(video, (1, 3, 16, 384, 384)) == (1, 2048, 1, 12, 12)
    assert _meta_forward(video, (1, 3, 4, 384, 384)) == (1, 2048, 1, 12, 12)
    small = build_video_backbone("resnext50", layers=[1, 1, 1]).eval()
    with torch.no_grad():  # the fixture's video set: 4 x 64 x 64 -> 1 x 4 x 4
        assert tuple(small(torch.randn(2, 3, 4, 64, 64)).shape) == (2, 1024, 1, 4, 4)


def test_audio_output_grids():
    cnn14 = build_audio_backbone("pann_cnn14").eval()
    with torch.no_grad():  # 1 s at 48 kHz, hop 200: 241 frames -> 241 // 32 = 7
        assert tuple(cnn14(torch.randn(1, 48_000) * 0.1).shape) == (1, 2048, 7, 2)
    # 10 s: 2401 frames -> 75 x 2 = 150 tokens (as in the reference model)
    assert _meta_forward(cnn14, (2, 480_000)) == (2, 2048, 75, 2)
    cnn10 = build_audio_backbone("pann_cnn10", hop_size=480)
    assert _meta_forward(cnn10, (1, 480_000)) == (1, 1024, 1001 // 32, 2)
    cnn6 = build_audio_backbone("pann_cnn6")
    assert _meta_forward(cnn6, (1, 96_000)) == (1, 512, 481 // 16, 4)


# --------------------------------------------------------------------------- audio numerics
def test_fresh_front_end_constants_match_reference(parity_dir):
    state = _sub_state(
        torch.load(parity_dir / "audio_model_state_dict.pt", weights_only=True),
        "encoder.embed_audios.",
    )
    fresh = build_audio_backbone("pann_cnn6").state_dict()
    for key in (
        "logmel_extractor.melW",
        "spectrogram_extractor.stft.conv_real.weight",
        "spectrogram_extractor.stft.conv_imag.weight",
    ):
        assert fresh[key].dtype == torch.float32
        torch.testing.assert_close(fresh[key], state[key], atol=1e-6, rtol=0)


def test_front_end_parameters_are_frozen():
    audio = build_audio_backbone("pann_cnn6")
    frozen = {n for n, p in audio.named_parameters() if not p.requires_grad}
    assert frozen == {
        "logmel_extractor.melW",
        "spectrogram_extractor.stft.conv_real.weight",
        "spectrogram_extractor.stft.conv_imag.weight",
    }


def test_cnn6_reproduces_reference_logmel_and_conv_map(parity_dir):
    state = torch.load(parity_dir / "audio_model_state_dict.pt", weights_only=True)
    inputs = torch.load(parity_dir / "audio_inputs.pt", weights_only=True)
    outputs = torch.load(parity_dir / "audio_outputs.pt", weights_only=True)
    wave = inputs["audio.patch_audios"]
    audio = build_audio_backbone("pann_cnn6").eval()
    with torch.no_grad():
        fresh_logmel = audio.log_mel(wave)  # our own front-end constants
        audio.load_state_dict(_sub_state(state, "encoder.embed_audios."), strict=True)
        logmel = audio.log_mel(wave)
        conv_map = audio(wave)
    assert logmel.shape == (2, 1, 241, 64)
    torch.testing.assert_close(fresh_logmel, outputs["audio.logmel"], atol=1e-3, rtol=0)
    torch.testing.assert_close(logmel, outputs["audio.logmel"], atol=1e-3, rtol=0)
    assert conv_map.shape == (2, 512, 15, 4)
    torch.testing.assert_close(conv_map, outputs["audio.cnn_out"], atol=1e-4, rtol=0)


def test_log_mel_matches_torch_stft_route():
    """Independent route: torch.stft + the stored filterbank + 10 log10."""
    audio = build_audio_backbone("pann_cnn6", hop_size=200)
    wave = torch.randn(2, 9_600, generator=torch.Generator().manual_seed(0)) * 0.3
    spec = torch.stft(
        wave.double(),
        n_fft=1024,
        hop_length=200,
        win_length=1024,
        window=torch.hann_window(1024, periodic=True, dtype=torch.float64),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    power = spec.abs() ** 2  # (B, 513, frames)
    mel = power.transpose(1, 2) @ audio.logmel_extractor.melW.double()
    expected = (10.0 * torch.log10(mel.clamp(min=1e-10)))[:, None].float()
    with torch.no_grad():
        got = audio.log_mel(wave)
    assert got.shape == (2, 1, 9_600 // 200 + 1, 64)
    torch.testing.assert_close(got, expected, atol=1e-3, rtol=0)


def test_pann_train_mode_is_stochastic_and_eval_is_not():
    audio = build_audio_backbone("pann_cnn6")
    wave = torch.randn(1, 24_000) * 0.2
    audio.eval()
    with torch.no_grad():
        assert torch.equal(audio(wave), audio(wave))
    audio.train()
    torch.manual_seed(0)
    with torch.no_grad():
        first, second = audio(wave), audio(wave)
    assert not torch.equal(first, second)


def test_drop_stripes_zeroes_whole_narrow_stripes():
    torch.manual_seed(3)
    x = torch.ones(16, 1, 200, 64)
    time_masked = drop_stripes(x, dim=2, max_width=64, n_stripes=2)
    per_frame = time_masked[:, 0, :, :]
    frame_dropped = (per_frame == 0).all(dim=2)  # whole frames are zeroed ...
    assert torch.equal((per_frame == 0).any(dim=2), frame_dropped)  # ... never partially
    assert int(frame_dropped.sum(dim=1).max()) <= 2 * 63
    assert bool(frame_dropped.any())
    freq_masked = drop_stripes(x, dim=3, max_width=8, n_stripes=2)
    bin_dropped = (freq_masked[:, 0] == 0).all(dim=1)  # (B, 64)
    assert int(bin_dropped.sum(dim=1).max()) <= 2 * 7
    assert torch.equal((freq_masked == 0), bin_dropped[:, None, None, :].expand_as(x))


# --------------------------------------------------------------------------- BN / drop path
@pytest.mark.parametrize("kind", ["image", "video", "audio"])
def test_eval_mode_batchnorm_uses_running_stats(kind):
    torch.manual_seed(1)
    if kind == "image":
        net, x = (
            build_image_backbone("resnet", "resnet50", layers=[1, 1, 1]),
            torch.randn(3, 3, 64, 64),
        )
    elif kind == "video":
        net, x = build_video_backbone("resnext50", layers=[1, 1, 1]), torch.randn(3, 3, 4, 32, 32)
    else:
        net, x = build_audio_backbone("pann_cnn6"), torch.randn(3, 12_000) * 0.2
    for name, buf in net.named_buffers():  # make the running stats non-trivial
        if name.endswith("running_mean"):
            buf.copy_(0.1 * torch.randn_like(buf))
        elif name.endswith("running_var"):
            buf.copy_(torch.rand_like(buf) + 0.5)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.eval()
    with torch.no_grad():
        batched = net(x)
        alone = net(x[:1])
    # per-sample output does not depend on the rest of the batch, buffers untouched
    torch.testing.assert_close(batched[:1], alone, atol=1e-4, rtol=1e-4)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    if kind == "audio":
        return  # train mode adds dropout / SpecAugment, covered elsewhere
    net.train()
    with torch.no_grad():
        batched_train = net(x)
        alone_train = net(x[:1])
    assert not torch.allclose(batched_train[:1], alone_train, atol=1e-3)
    assert int(net.state_dict()["bn1.num_batches_tracked"]) == 2
    assert not torch.equal(net.state_dict()["bn1.running_mean"], before["bn1.running_mean"])


def test_ofa_drop_path_schedule_per_stage():
    net = build_image_backbone("resnet", "resnet101", drop_path_rate=0.2)
    for stage, blocks in zip((net.layer1, net.layer2, net.layer3), (3, 4, 23)):
        assert isinstance(stage[0].drop_path, torch.nn.Identity)  # first block: none
        rates = [stage[i].drop_path.drop_prob for i in range(1, blocks)]
        assert rates == pytest.approx([0.2 * i / (blocks - 1) for i in range(1, blocks)])
    assert net.layer1[1].drop_path.drop_prob == pytest.approx(0.1)
    assert net.layer1[2].drop_path.drop_prob == pytest.approx(0.2)
    assert net.layer3[22].drop_path.drop_prob == pytest.approx(0.2)
    plain = build_image_backbone("resnet", "resnet50")
    assert all(
        isinstance(b.drop_path, torch.nn.Identity) for b in plain.modules() if hasattr(b, "conv3")
    )


def test_timm_drop_path_schedule_is_network_wide():
    with torch.device("meta"):
        net = build_image_backbone("timm_resnet", "resnet50", drop_path_rate=0.3)
    blocks = [b for stage in (net.layer1, net.layer2, net.layer3, net.layer4) for b in stage]
    assert len(blocks) == 16
    assert isinstance(blocks[0].drop_path, torch.nn.Identity)
    assert blocks[1].drop_path.drop_prob == pytest.approx(0.3 / 15)
    assert blocks[15].drop_path.drop_prob == pytest.approx(0.3)


def test_drop_path_drops_whole_samples_only_in_training():
    torch.manual_seed(0)
    x = torch.ones(400, 2, 3)
    assert torch.equal(drop_path(x, 0.25, training=False), x)
    y = drop_path(x, 0.25, training=True)
    per_sample = y.flatten(1)
    assert torch.all((per_sample == 0).all(1) | (per_sample == 1 / 0.75).all(1))
    kept = (per_sample != 0).all(1).float().mean().item()
    assert abs(kept - 0.75) < 0.08  # ~5 standard deviations of a Binomial(400, .75) mean


# --------------------------------------------------------------------------- pretrained files
def test_load_pretrained_backbone_strips_wrappers_and_prefixes(tmp_path):
    source = build_video_backbone("resnext50", layers=[1, 1, 1])
    wrapped = {"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}, "epoch": 3}
    wrapped["state_dict"]["module.fc.weight"] = torch.zeros(400, 1024)
    path = tmp_path / "video.pth"
    torch.save(wrapped, path)
    target = build_video_backbone("resnext50", layers=[1, 1, 1])
    missing, unexpected = load_pretrained_backbone(target, str(path))
    assert missing == [] and unexpected == ["fc.weight"]
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_load_pretrained_pann_drops_mel_keys_for_other_mel_bins(tmp_path):
    source = build_audio_backbone("pann_cnn6")  # 64 mel bins
    source.bn0.num_batches_tracked.fill_(7)  # same shape in both: only the mel rule drops it
    path = tmp_path / "cnn6.pth"
    torch.save({"model": dict(source.state_dict())}, path)
    target = build_audio_backbone("pann_cnn6", mel_bins=128)
    melw_before = target.logmel_extractor.melW.clone()
    missing, unexpected = load_pretrained_backbone(target, str(path))
    assert unexpected == []
    # (torch's BatchNorm never reports a missing num_batches_tracked: it keeps its own)
    assert set(missing) == {
        "logmel_extractor.melW",
        "bn0.weight",
        "bn0.bias",
        "bn0.running_mean",
        "bn0.running_var",
    }
    assert int(target.bn0.num_batches_tracked) == 0
    assert torch.equal(target.logmel_extractor.melW, melw_before)
    assert torch.equal(target.conv_block2.conv1.weight, source.conv_block2.conv1.weight)
    assert math.isclose(float(target.fc1.bias.sum()), float(source.fc1.bias.sum()))


def _conv_input_in_training(audio, wave):
    """The tensor the first conv block receives in training mode: (B, 1, T, F)."""
    seen = []
    handle = audio.conv_block1.register_forward_pre_hook(
        lambda _m, args: seen.append(args[0].clone())
    )
    audio.train()
    torch.manual_seed(0)
    with torch.no_grad():
        audio(wave)
    handle.remove()
    return seen[0]


def test_spec_augment_can_be_turned_off_for_short_clips():
    wave = torch.randn(2, 16_000) * 0.2
    plain = build_audio_backbone("pann_cnn6", mel_bins=32, spec_augment=False)
    striped = build_audio_backbone("pann_cnn6", mel_bins=32)
    striped.load_state_dict(plain.state_dict())
    with torch.no_grad():  # what bn0 (batch statistics in training) makes of the log-mel
        plain.train()
        expected = plain.bn0(plain.log_mel(wave).transpose(1, 3)).transpose(1, 3)
    assert torch.allclose(_conv_input_in_training(plain, wave), expected, atol=1e-6)
    # default (the research code): 2 time and 2 mel stripes zeroed per sample
    augmented = _conv_input_in_training(striped, wave)
    zero_frames = (augmented == 0).all(dim=3).sum().item()
    zero_bins = (augmented == 0).all(dim=2).sum().item()
    assert zero_frames + zero_bins > 0 and not torch.allclose(augmented, expected)


def test_model_flag_reaches_the_audio_encoder():
    from unival import build_model

    on = build_model(
        "unival_tiny", vocab_size=64, video_encoder_name="none", audio_encoder_name="pann_cnn6"
    )
    off = build_model(
        "unival_tiny",
        vocab_size=64,
        video_encoder_name="none",
        audio_encoder_name="pann_cnn6",
        no_audio_spec_augment=True,
    )
    encoders = [m for m in (on, off) for m in m.modules() if hasattr(m, "use_spec_augment")]
    assert [e.use_spec_augment for e in encoders] == [True, False]
