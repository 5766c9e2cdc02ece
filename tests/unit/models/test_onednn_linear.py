"""CPU inference of the model's linear layers runs through oneDNN (``layers.linear``) with the
results of ``F.linear``; anything that needs gradients, autocast, the plain path or oneDNN
switched off does not."""

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from unival.models import build_model
from unival.models.layers import linear as linear_module
from unival.models.layers.linear import Linear, linear
from unival.models.perf import plain_path

pytestmark = pytest.mark.skipif(
    not linear_module._ONEDNN_LINEAR, reason="this torch build has no oneDNN linear"
)


@pytest.fixture
def onednn_calls(monkeypatch):
    """The input shapes of the calls that reached oneDNN's linear (the real op still runs)."""
    calls = []
    real = linear_module._onednn_linear

    def counted(*args):
        calls.append(args[0].shape)
        return real(*args)

    monkeypatch.setattr(linear_module, "_onednn_linear", counted)
    return calls


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 48), (1, 48), (0, 48), (3, 7, 48), (48, 2, 3)], ids=str)
@torch.no_grad()
def test_inference_goes_through_onednn_with_the_results_of_f_linear(onednn_calls, shape, bias):
    torch.manual_seed(0)
    layer = Linear(48, 300, bias=bias)
    x = torch.randn(*shape)
    if shape[0] == 48:  # a transposed (non-contiguous) input, as the decoder's (T, B, C) views
        x = x.permute(1, 2, 0)
    out = layer(x)
    assert onednn_calls == [x.shape]
    assert out.shape == (*x.shape[:-1], 300)
    torch.testing.assert_close(out, F.linear(x, layer.weight, layer.bias), atol=1e-5, rtol=1e-5)


def test_training_autocast_and_the_plain_path_keep_f_linear(onednn_calls):
    layer = Linear(16, 8)
    x = torch.randn(4, 16)
    out = layer(x)  # the weight needs a gradient: autograd's graph, so F.linear
    out.sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert layer(x).dtype == torch.bfloat16
    with torch.no_grad(), plain_path():
        layer(x)
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
        layer(x)
    with torch.no_grad():
        assert linear(x.bfloat16(), layer.weight.bfloat16()).dtype == torch.bfloat16
    assert onednn_calls == []


@torch.no_grad()
def test_the_model_decodes_through_onednn_with_the_plain_path_logits(onednn_calls):
    torch.manual_seed(0)
    model = build_model("unival_tiny", 60, video_encoder_name="none").eval()
    gen = torch.Generator().manual_seed(1)
    net_input = {
        "src_tokens": torch.randint(4, 60, (2, 6), generator=gen),
        "src_lengths": torch.full((2,), 6),
        "patch_images": torch.randn(2, 3, 64, 64, generator=gen),
        "patch_masks": torch.ones(2, dtype=torch.bool),
    }
    prev = torch.randint(4, 60, (2, 5), generator=gen)
    with plain_path():
        plain, _ = model(**net_input, prev_output_tokens=prev)
    assert onednn_calls == []
    fast, _ = model(**net_input, prev_output_tokens=prev)
    # 2 encoder layers (q, k, v, out, fc1, fc2), 2 decoder layers (self- and cross-attention's
    # q, k, v, out, fc1, fc2) and the output projection
    assert len(onednn_calls) == 2 * 6 + 2 * 10 + 1
    torch.testing.assert_close(fast, plain, atol=2e-5, rtol=1e-5)


@torch.no_grad()
def test_flop_counter_counts_the_onednn_linear_as_a_matmul():
    layer = Linear(32, 64, bias=False)
    with FlopCounterMode(display=False) as counter:
        layer(torch.randn(3, 5, 32))
    assert counter.get_total_flops() == 2 * 15 * 32 * 64
