"""On the CPU fast path the image and video backbones get their input channels-last
(``PatchAdapter.laid_out``): training logits, every gradient and the batch-norm running
statistics equal the plain path, which feeds the backbone its input as it comes."""

import pytest
import torch

from unival.data.modality import Modality
from unival.models import build_model
from unival.models.perf import plain_path

NO_DROPOUT = dict(dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)
ROWS = 3


def _model():
    torch.manual_seed(0)
    return build_model("unival_tiny", 60, **NO_DROPOUT).train()


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


def _run(model, backbone, net_input, prev):
    """(logits, {name: grad}, buffers, memory formats the backbone's input was in)."""
    seen = []
    hook = backbone.register_forward_pre_hook(
        lambda module, args: seen.append(
            [fmt for fmt in FORMATS if args[0].is_contiguous(memory_format=fmt)]
        )
    )
    model.zero_grad(set_to_none=True)
    logits, _ = model(**net_input, prev_output_tokens=prev)
    torch.log_softmax(logits, -1).mean().backward()
    hook.remove()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    return logits.detach(), grads, buffers, seen


FORMATS = (torch.contiguous_format, torch.channels_last, torch.channels_last_3d)


@pytest.mark.parametrize(
    "kind, backbone_name, layout",
    [
        ("image", "embed_images", torch.channels_last),
        ("video", "embed_videos", torch.channels_last_3d),
    ],
)
def test_the_cpu_fast_path_lays_the_media_out_channels_last_with_the_same_training_step(
    kind, backbone_name, layout
):
    model = _model()
    backbone = getattr(model.encoder, backbone_name)
    net_input, prev = _net_input(kind)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with plain_path():
        plain = _run(model, backbone, net_input, prev)
    model.load_state_dict(state)
    fast = _run(model, backbone, net_input, prev)

    # the input the backbone saw: as given on the plain path, channels-last on the fast one
    assert plain[3] == [[torch.contiguous_format]]
    assert fast[3] == [[layout]]
    torch.testing.assert_close(fast[0], plain[0], atol=1e-5, rtol=1e-5)
    assert fast[1].keys() == plain[1].keys()
    assert any(name.startswith(f"encoder.{backbone_name}.") for name in fast[1])
    for name in plain[1]:
        torch.testing.assert_close(fast[1][name], plain[1][name], atol=2e-5, rtol=1e-4, msg=name)
    for name in plain[2]:
        torch.testing.assert_close(fast[2][name], plain[2][name], atol=1e-6, rtol=1e-5, msg=name)
