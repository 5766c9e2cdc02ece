"""On the CPU's fast path the image and video backbones get their input channels-last
(``PatchAdapter.laid_out``), in inference and in training, with the plain path's logits,
gradients and batch-norm statistics up to rounding."""

import pytest
import torch
from tiny_rows import text_rows

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
    net_input, prev = text_rows(ROWS, gen)
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
def test_training_lays_the_media_out_channels_last_with_the_plain_gradients(
    kind, backbone_name, layout
):
    net_input, prev = _net_input(kind)
    runs = {}
    for plain in (True, False):
        model = _model().train()
        backbone = getattr(model.encoder, backbone_name)
        with plain_path(plain):
            logits, seen = _forward(model, backbone, net_input, prev)
            logits.float().pow(2).mean().backward()
        runs[plain] = (logits.detach(), seen, dict(model.named_parameters()), model.state_dict())
    (p_logits, p_seen, p_params, p_state), (f_logits, f_seen, f_params, f_state) = (
        runs[True],
        runs[False],
    )
    assert p_seen == [[torch.contiguous_format]] and f_seen == [[layout]]
    torch.testing.assert_close(f_logits, p_logits, atol=1e-5, rtol=1e-5)
    grads = [name for name, p in p_params.items() if p.grad is not None]
    assert any(name.startswith(f"encoder.{backbone_name}.") for name in grads)
    for name in grads:
        torch.testing.assert_close(f_params[name].grad, p_params[name].grad, atol=1e-5, rtol=1e-4)
    for name in p_state:
        if "running_" in name:
            torch.testing.assert_close(f_state[name], p_state[name], atol=1e-6, rtol=1e-5)
