"""The backbone loaders read the files the authors start from, in those files' own layouts.

Each official layout is written out here from the public source of the file (names, shapes and
wrapper), independently of our modules:

* timm ``resnet101_a1h-36d3f2aa.pth``: a bare state dict of timm's ResNet (``conv1``, ``bn1``,
  ``layer{1-4}.{i}.conv{1,2,3}``/``bn{1,2,3}``, ``downsample.{0,1}``, the ``fc`` classifier);
  the reference code loads it as is, non-strictly.
* ``resnext-101-kinetics.pth`` (Hara et al., 3D-ResNets-PyTorch, ResNeXt shortcut B,
  cardinality 32): ``{"epoch", "arch", "state_dict": {"module." + name}, "optimizer"}`` with a
  400-class ``fc``, saved without BatchNorm ``num_batches_tracked`` (an older torch).
* PANN ``Cnn14_mAP=0.431.pth``: ``{"model": state_dict}`` with the STFT/log-mel constants,
  ``bn0``, six ``conv_block``s of two 3x3 convs and the ``fc1``/``fc_audioset`` head.

Small files (fewer blocks) check that every tensor lands where it belongs; the full-size layouts
are compared by name and shape on the meta device (no memory, no download).
"""

import pytest
import torch

from unival.models.backbones import (
    build_audio_backbone,
    build_image_backbone,
    build_video_backbone,
    clean_backbone_state_dict,
    load_pretrained_backbone,
)

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _bn(prefix: str, width: int, tracked: bool = True) -> dict:
    shapes = {f"{prefix}.{n}": (width,) for n in BN[:4]}
    if tracked:
        shapes[f"{prefix}.num_batches_tracked"] = ()
    return shapes


def timm_resnet_layout(blocks) -> dict:
    """name -> shape of timm's ResNet (bottleneck, expansion 4) with ``blocks`` per stage."""
    shapes = {"conv1.weight": (64, 3, 7, 7), **_bn("bn1", 64)}
    inplanes = 64
    for stage, (planes, n) in enumerate(zip((64, 128, 256, 512), blocks), start=1):
        for i in range(n):
            p = f"layer{stage}.{i}"
            shapes.update(
                {
                    f"{p}.conv1.weight": (planes, inplanes, 1, 1),
                    **_bn(f"{p}.bn1", planes),
                    f"{p}.conv2.weight": (planes, planes, 3, 3),
                    **_bn(f"{p}.bn2", planes),
                    f"{p}.conv3.weight": (planes * 4, planes, 1, 1),
                    **_bn(f"{p}.bn3", planes * 4),
                }
            )
            if i == 0:
                shapes.update(
                    {
                        f"{p}.downsample.0.weight": (planes * 4, inplanes, 1, 1),
                        **_bn(f"{p}.downsample.1", planes * 4),
                    }
                )
            inplanes = planes * 4
    shapes.update({"fc.weight": (1000, 2048), "fc.bias": (1000,)})
    return shapes


def kinetics_resnext_layout(blocks) -> dict:
    """name -> shape of Hara et al.'s 3-D ResNeXt (cardinality 32, shortcut B), no module.
    prefix."""
    shapes = {"conv1.weight": (64, 3, 7, 7, 7), **_bn("bn1", 64, tracked=False)}
    inplanes = 64
    for stage, (planes, n) in enumerate(zip((128, 256, 512, 1024), blocks), start=1):
        mid = 32 * (planes // 32)
        for i in range(n):
            p = f"layer{stage}.{i}"
            shapes.update(
                {
                    f"{p}.conv1.weight": (mid, inplanes, 1, 1, 1),
                    **_bn(f"{p}.bn1", mid, False),
                    f"{p}.conv2.weight": (mid, mid // 32, 3, 3, 3),
                    **_bn(f"{p}.bn2", mid, False),
                    f"{p}.conv3.weight": (planes * 2, mid, 1, 1, 1),
                    **_bn(f"{p}.bn3", planes * 2, False),
                }
            )
            if i == 0:
                shapes.update(
                    {
                        f"{p}.downsample.0.weight": (planes * 2, inplanes, 1, 1, 1),
                        **_bn(f"{p}.downsample.1", planes * 2, False),
                    }
                )
            inplanes = planes * 2
    shapes.update({"fc.weight": (400, 2048), "fc.bias": (400,)})
    return shapes


def pann_cnn14_layout() -> dict:
    """name -> shape of PANN's Cnn14 (1024-point window: 513 frequencies, 64 mel bins)."""
    shapes = {
        "spectrogram_extractor.stft.conv_real.weight": (513, 1, 1024),
        "spectrogram_extractor.stft.conv_imag.weight": (513, 1, 1024),
        "logmel_extractor.melW": (513, 64),
        **_bn("bn0", 64),
    }
    inplanes = 1
    for block, width in enumerate((64, 128, 256, 512, 1024, 2048), start=1):
        p = f"conv_block{block}"
        shapes.update(
            {
                f"{p}.conv1.weight": (width, inplanes, 3, 3),
                f"{p}.conv2.weight": (width, width, 3, 3),
                **_bn(f"{p}.bn1", width),
                **_bn(f"{p}.bn2", width),
            }
        )
        inplanes = width
    shapes.update(
        {
            "fc1.weight": (2048, 2048),
            "fc1.bias": (2048,),
            "fc_audioset.weight": (527, 2048),
            "fc_audioset.bias": (527,),
        }
    )
    return shapes


def _tensors(layout: dict, seed: int = 0) -> dict:
    """Distinct random values for every entry (integer counters for num_batches_tracked)."""
    gen = torch.Generator().manual_seed(seed)
    return {
        k: (torch.tensor(7) if k.endswith("num_batches_tracked") else torch.randn(s, generator=gen))
        for k, s in layout.items()
    }


def _full_size_check(module, layout: dict, wrapped: dict, head: set):
    """Full-size layout vs our module, by name and shape (meta tensors: nothing allocated)."""
    state, dropped = clean_backbone_state_dict(module, wrapped)
    assert dropped == []  # no shape disagrees
    own = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    assert set(state) - set(own) == head  # only the classifier is left out
    assert [k for k in set(own) - set(state) if not k.endswith("num_batches_tracked")] == []
    assert {k: tuple(v.shape) for k, v in state.items() if k in own} == {
        k: own[k] for k in state if k in own
    }


def test_timm_resnet101_a1h_layout_loads(tmp_path):
    with torch.device("meta"):
        full = build_image_backbone("timm_resnet", "resnet101")
    layout = timm_resnet_layout([3, 4, 23, 3])
    _full_size_check(
        full, layout, {k: torch.empty(s, device="meta") for k, s in layout.items()}, set()
    )
    small = _tensors(timm_resnet_layout([2, 1, 1, 1]))
    torch.save(
        small, tmp_path / "resnet101_a1h-36d3f2aa.pth"
    )  # a bare state dict, as timm ships it
    module = build_image_backbone("timm_resnet", "resnet101", layers=[2, 1, 1, 1])
    missing, unexpected = load_pretrained_backbone(
        module, str(tmp_path / "resnet101_a1h-36d3f2aa.pth")
    )
    assert (missing, unexpected) == ([], [])
    own = module.state_dict()
    for key, value in small.items():
        assert torch.equal(own[key], value), key


def test_kinetics_resnext101_layout_loads(tmp_path):
    layout = kinetics_resnext_layout([3, 4, 23, 3])
    with torch.device("meta"):
        full = build_video_backbone("all_resnext101")
    meta = {"state_dict": {f"module.{k}": torch.empty(s, device="meta") for k, s in layout.items()}}
    _full_size_check(full, layout, meta, {"fc.weight", "fc.bias"})
    small = _tensors(kinetics_resnext_layout([2, 1, 1, 1]))
    checkpoint = {
        "epoch": 200,
        "arch": "resnext-101",
        "optimizer": {"state": {}, "param_groups": []},
        "state_dict": {f"module.{k}": v for k, v in small.items()},
    }
    torch.save(checkpoint, tmp_path / "resnext-101-kinetics.pth")
    module = build_video_backbone("all_resnext101", layers=[2, 1, 1, 1])
    missing, unexpected = load_pretrained_backbone(
        module, str(tmp_path / "resnext-101-kinetics.pth")
    )
    assert missing == [] and sorted(unexpected) == [
        "fc.bias",
        "fc.weight",
    ]  # the Kinetics classifier
    own = module.state_dict()
    for key, value in small.items():
        if not key.startswith("fc."):
            assert torch.equal(own[key], value), key


def test_pann_cnn14_layout_loads(tmp_path):
    layout = pann_cnn14_layout()
    with torch.device("meta"):
        full = build_audio_backbone("pann_cnn14")
    head = {"fc1.weight", "fc1.bias", "fc_audioset.weight", "fc_audioset.bias"}
    _full_size_check(
        full, layout, {"model": {k: torch.empty(s, device="meta") for k, s in layout.items()}}, head
    )
    # a small file in the official wrapper: the front end, bn0, the first block and the head
    small = _tensors(
        {
            k: s
            for k, s in layout.items()
            if not k.startswith("conv_block") or k.startswith("conv_block1.")
        }
    )
    torch.save({"model": small}, tmp_path / "Cnn14_mAP=0.431.pth")
    with torch.device("meta"):  # allocated without its (slow, here useless) random initialisation
        module = build_audio_backbone("pann_cnn14")
    module = module.to_empty(device="cpu")
    missing, unexpected = load_pretrained_backbone(module, str(tmp_path / "Cnn14_mAP=0.431.pth"))
    assert set(unexpected) == head
    assert all(k.startswith(tuple(f"conv_block{b}." for b in range(2, 7))) for k in missing)
    own = module.state_dict()
    for key, value in small.items():
        if key not in head:
            assert torch.equal(own[key], value), key


def test_a_file_of_another_model_is_refused(tmp_path):
    """Non-strict loading would keep the random weights without a word: refuse instead."""
    torch.save({"state_dict": {"module.encoder.weight": torch.zeros(3)}}, tmp_path / "other.pth")
    module = build_image_backbone("timm_resnet", "resnet50", layers=[1, 1, 1, 1])
    with pytest.raises(ValueError, match="other.pth: none of its 1 tensors matches"):
        load_pretrained_backbone(module, str(tmp_path / "other.pth"))
