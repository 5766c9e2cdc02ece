"""interpolate / average / linear_combination on hand-computed 2-4 element cases."""

import re

import pytest
import torch

from unival.merging import MergeError, average, interpolate, linear_combination, plan_merge


def _pair():
    a = {
        "w": torch.tensor([1.0, 2.0, -4.0]),
        "h": torch.tensor([2.0, 4.0], dtype=torch.float16),
        "bn.num_batches_tracked": torch.tensor(7),
        "encoder.token_rp_bucket": torch.tensor([[0, 1], [1, 0]]),
    }
    b = {
        "w": torch.tensor([3.0, 6.0, 0.0]),
        "h": torch.tensor([4.0, 8.0], dtype=torch.float16),
        "bn.num_batches_tracked": torch.tensor(9),
        "encoder.token_rp_bucket": torch.tensor([[0, 1], [1, 0]]),
    }
    return a, b


def test_interpolate_endpoints_are_exact_copies_of_the_inputs():
    a, b = _pair()
    at_one, at_zero = interpolate(a, b, 1.0), interpolate(a, b, 0.0)
    for key in ("w", "h"):
        assert torch.equal(at_one[key], a[key]) and at_one[key].dtype == a[key].dtype
        assert torch.equal(at_zero[key], b[key])


def test_interpolate_follows_lam_a_plus_one_minus_lam_b():
    a, b = _pair()
    mid = interpolate(a, b, 0.5)
    assert torch.equal(mid["w"], torch.tensor([2.0, 4.0, -2.0]))
    assert torch.equal(mid["h"], torch.tensor([3.0, 6.0], dtype=torch.float16))
    quarter = interpolate(a, b, 0.25)  # 0.25 * a + 0.75 * b
    assert torch.equal(quarter["w"], torch.tensor([2.5, 5.0, -1.0]))
    assert list(quarter) == list(a)


def test_integer_buffers_come_from_the_first_model_and_differences_are_recorded():
    a, b = _pair()
    mid = interpolate(a, b, 0.5)
    assert mid["bn.num_batches_tracked"].item() == 7  # not 8: integers are never averaged
    assert mid["bn.num_batches_tracked"].dtype == torch.int64
    assert torch.equal(mid["encoder.token_rp_bucket"], a["encoder.token_rp_bucket"])
    notes = plan_merge([a, b], names=["A", "B"]).notes()
    assert notes["copied_but_different"] == {"bn.num_batches_tracked": ["B"]}
    assert set(notes["copied_from_first"]) == {"bn.num_batches_tracked", "encoder.token_rp_bucket"}


def test_result_shares_no_memory_with_the_inputs():
    a, b = _pair()
    result = interpolate(a, b, 1.0)
    result["w"].add_(100)
    result["encoder.token_rp_bucket"].add_(100)
    assert torch.equal(a["w"], torch.tensor([1.0, 2.0, -4.0]))
    assert a["encoder.token_rp_bucket"].max().item() == 1


def test_weighted_and_uniform_average():
    states = [
        {"w": torch.tensor([4.0, 8.0])},
        {"w": torch.tensor([0.0, 4.0])},
        {"w": torch.tensor([8.0, -4.0])},
    ]
    assert torch.equal(average(states, [0.5, 0.25, 0.25])["w"], torch.tensor([4.0, 4.0]))
    uniform = average(states)["w"]
    assert torch.allclose(uniform, torch.tensor([4.0, 8.0 / 3.0]), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "weights, message",
    [
        ([0.5, 0.25], "2 weights given for 3"),
        ([0.5, 0.5, 0.5], "must sum to 1"),
        ([1.5, -0.25, -0.25], "non-negative"),
        ([float("nan"), 0.5, 0.5], "finite"),
    ],
)
def test_average_rejects_bad_weights(weights, message):
    states = [{"w": torch.zeros(2)} for _ in range(3)]
    with pytest.raises(ValueError, match=message):
        average(states, weights)


def test_linear_combination_allows_extrapolation():
    a, b = {"w": torch.tensor([1.0, 2.0])}, {"w": torch.tensor([3.0, 3.0])}
    assert torch.equal(linear_combination([a, b], [2.0, -1.0])["w"], torch.tensor([-1.0, 1.0]))
    assert torch.equal(interpolate(a, b, 1.5)["w"], torch.tensor([0.0, 1.5]))


def test_frozen_keys_exact_and_regex_are_copied_from_the_first_model():
    a = {
        "front.melW": torch.tensor([1.0, 1.0]),
        "front.stft.conv": torch.tensor([5.0]),
        "w": torch.tensor([0.0, 2.0]),
    }
    b = {
        "front.melW": torch.tensor([3.0, 3.0]),
        "front.stft.conv": torch.tensor([5.0]),
        "w": torch.tensor([2.0, 4.0]),
    }
    merged = average(
        [a, b], frozen_keys=[re.compile(r"melW$"), "front.stft.conv", re.compile("nope")]
    )
    assert torch.equal(merged["front.melW"], torch.tensor([1.0, 1.0]))
    assert torch.equal(merged["front.stft.conv"], torch.tensor([5.0]))
    assert torch.equal(merged["w"], torch.tensor([1.0, 3.0]))
    notes = plan_merge([a, b], frozen_keys=[re.compile(r"melW$"), re.compile("nope")]).notes()
    assert notes["frozen_keys"] == ["front.melW"]
    assert notes["copied_but_different"] == {"front.melW": ["model 1"]}
    assert notes["unmatched_frozen_patterns"] == ["nope"]


def test_frozen_exact_name_that_no_model_holds_is_an_error():
    a = {"w": torch.zeros(1)}
    with pytest.raises(MergeError, match="frozen_keys names keys no input holds: typo.weight"):
        average([a, dict(a)], frozen_keys=["typo.weight"])


def _tied_state(embedding, other):
    shared = embedding.clone()
    return {
        "encoder.embed_tokens.weight": shared,
        "decoder.embed_tokens.weight": shared,
        "decoder.output_projection.weight": shared,
        "fc.weight": other.clone(),
    }


TIED = (
    "encoder.embed_tokens.weight",
    "decoder.embed_tokens.weight",
    "decoder.output_projection.weight",
)


def test_tied_tensors_are_merged_once_and_stay_shared():
    a = _tied_state(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([1.0]))
    b = _tied_state(torch.tensor([[3.0, 0.0], [5.0, 8.0]]), torch.tensor([3.0]))
    merged = interpolate(a, b, 0.5)
    expected = torch.tensor([[2.0, 1.0], [4.0, 6.0]])
    for key in TIED:
        assert torch.equal(merged[key], expected)
    pointers = {merged[key].data_ptr() for key in TIED}
    assert len(pointers) == 1
    assert merged["fc.weight"].data_ptr() not in pointers
    assert plan_merge([a, b]).notes()["tied_groups"] == [list(TIED)]


def test_tied_in_one_model_but_different_in_another_is_an_error():
    a = _tied_state(torch.ones(2, 2), torch.ones(1))
    b = {key: torch.full((2, 2), float(i)) for i, key in enumerate(TIED)}
    b["fc.weight"] = torch.ones(1)
    with pytest.raises(MergeError) as info:
        average([a, b])
    message = str(info.value)
    assert (
        "model 1 holds different values under decoder.embed_tokens.weight, "
        "decoder.output_projection.weight" in message
    )


def test_freezing_part_of_a_tied_group_is_an_error():
    a = _tied_state(torch.ones(2, 2), torch.ones(1))
    b = _tied_state(torch.zeros(2, 2), torch.ones(1))
    with pytest.raises(MergeError, match="freeze all of a tied group or none"):
        average([a, b], frozen_keys=["decoder.output_projection.weight"])
