"""In CPU inference on the fast path the image and video backbones get their input
channels-last (``PatchAdapter.laid_out``) with the plain path's logits; training keeps the
layout it is given, so its rounding (and the demo's trained models) stay as they were."""

import pytest
import torch

from unival.data.modality import Modality
from unival.models import build_model
from unival.models.perf import plain_path

NO_DROPOUT = dict(dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)
ROWS = 3
FORMATS = (torch.contiguous_format, torch.channels_last, torch.channels_last_3d)
MEDIA = pytest.mark.parametrize(
    "kind, backbone_name, layout",
    [
        ("image", "embed_images", torch.channels_last),
        ("video", "embed_videos", torch.channels_last_3d),
    ],
)


def _model():
    torch.manual_seed(0)
    return build_model("unival_tiny", 60, **NO_DROPOUT)


def _net_input(kind):
    gen = torch.Generator().manual_seed(2)
    src = torch.randint(4, 60, (ROWS, 6), generator=gen)
    prev = torch.randint(4, 60, (ROWS, 5), generator=gen)
    prev[:, 0] = 0
    net_input = {
        "src_tokens": src,
        "src_lengths": torch.full((ROWS,), 6),
        "patch_masks": torch.ones(ROWS, dtype=torch.bool),
    }
    if kind == "image":
        net_input["patch_images"] = torch.randn(ROWS, 3, 64, 64, generator=gen)
    else:
        net_input["patch_videos"] = torch.randn(ROWS, 3, 4, 32, 32, generator=gen)
        net_input["patch_types"] = torch.full((ROWS,), int(Modality.VIDEO))
    return net_input, prev


def _forward(model, backbone, net_input, prev):
    """(logits, memory formats the backbone's input was in)."""
    seen = []
    hook = backbone.register_forward_pre_hook(
        lambda module, args: seen.append(
            [fmt for fmt in FORMATS if args[0].is_contiguous(memory_format=fmt)]
        )
    )
    try:
        logits, _ = model(**net_input, prev_output_tokens=prev)
    finally:
        hook.remove()
    return logits, seen


@MEDIA
@torch.no_grad()
def test_cpu_inference_lays_the_media_out_channels_last_with_the_plain_logits(
    kind, backbone_name, layout
):
    model = _model().eval()
    backbone = getattr(model.encoder, backbone_name)
    net_input, prev = _net_input(kind)
    with plain_path():
        plain, plain_seen = _forward(model, backbone, net_input, prev)
    fast, fast_seen = _forward(model, backbone, net_input, prev)

    assert plain_seen == [[torch.contiguous_format]]
    assert fast_seen == [[layout]]
    torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-5)


@MEDIA
def test_training_keeps_the_layout_it_is_given(kind, backbone_name, layout):
    model = _model().train()
    backbone = getattr(model.encoder, backbone_name)
    net_input, prev = _net_input(kind)
    logits, seen = _forward(model, backbone, net_input, prev)
    logits.float().mean().backward()
    assert seen == [[torch.contiguous_format]]
    assert any(p.grad is not None for p in backbone.parameters())
