"""Merging the state dicts of real ``unival_tiny`` models: ties found, result loads strictly."""

import torch

from unival.merging import interpolate, plan_merge, task_arithmetic
from unival.models import build_model

TIED = [
    "encoder.embed_tokens.weight",
    "decoder.embed_tokens.weight",
    "decoder.output_projection.weight",
]


def _model(seed):
    torch.manual_seed(seed)
    return build_model("unival_tiny", 40)


def test_interpolated_unival_tiny_loads_strictly_with_ties_and_buffers_intact():
    a, b = _model(0).state_dict(), _model(1).state_dict()
    b_trained = dict(b)
    bn_counter = next(key for key in b if key.endswith("num_batches_tracked"))
    b_trained[bn_counter] = torch.tensor(5)  # as after 5 training steps

    plan = plan_merge([a, b_trained])
    assert TIED in [list(group) for group in plan.tied_groups]
    assert {"encoder.token_rp_bucket", "decoder.image_position_idx", bn_counter} <= set(
        plan.copied_keys
    )
    assert plan.differing_copied == {bn_counter: ["model 1"]}

    merged = interpolate(a, b_trained, 0.3)
    target = build_model("unival_tiny", 40)
    target.load_state_dict(merged, strict=True)
    loaded = target.state_dict()
    for key in ("encoder.layers.0.fc1.weight", TIED[0]):
        assert torch.allclose(loaded[key], 0.3 * a[key] + 0.7 * b[key], rtol=0, atol=1e-6)
    assert torch.equal(loaded[TIED[2]], loaded[TIED[0]])
    assert loaded[bn_counter].item() == 0
    assert torch.equal(loaded["encoder.token_rp_bucket"], a["encoder.token_rp_bucket"])


def test_task_arithmetic_on_unival_tiny_with_zero_scale_is_the_base():
    base, tuned = _model(0).state_dict(), _model(1).state_dict()
    merged = task_arithmetic(base, [tuned], 0.0)
    assert all(torch.equal(merged[key], base[key]) for key in base)
    assert len({merged[key].data_ptr() for key in TIED}) == 1
