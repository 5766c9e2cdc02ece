"""Strict comparison: one MergeError that lists every difference between the inputs."""

import pytest
import torch

from unival.merging import MergeError, average, interpolate, plan_merge, task_arithmetic


def test_every_difference_is_listed_in_one_error():
    first = {
        "a": torch.zeros(2),
        "b": torch.zeros(2, 3),
        "c": torch.zeros(1),
        "d": torch.zeros(4),
        "only_first": torch.zeros(1),
    }
    second = {
        "a": torch.zeros(2),
        "b": torch.zeros(3, 2),
        "c": torch.zeros(1, dtype=torch.float16),
        "d": torch.zeros(4, dtype=torch.int64),
        "only_second": torch.zeros(1),
        "also_second": torch.zeros(1),
    }
    with pytest.raises(MergeError) as info:
        plan_merge([first, second], names=["A.pt", "B.pt"])
    assert info.value.differences == [
        "A.pt lacks 2 key(s): only_second, also_second",
        "B.pt lacks 1 key(s): only_first",
        "b: shape differs: A.pt (2, 3), B.pt (3, 2)",
        "c: dtype differs: A.pt float32, B.pt float16",
        "d: dtype differs: A.pt float32, B.pt int64",
    ]
    assert str(info.value).startswith("state dicts cannot be merged (5 problem(s)):")
    for difference in info.value.differences:
        assert difference in str(info.value)


def test_three_models_each_missing_keys_are_reported_per_model():
    states = [
        {"x": torch.zeros(1), "y": torch.zeros(1)},
        {"x": torch.zeros(1)},
        {"y": torch.zeros(1), "z": torch.zeros(1)},
    ]
    with pytest.raises(MergeError) as info:
        average(states)
    assert info.value.differences == [
        "model 0 lacks 1 key(s): z",
        "model 1 lacks 2 key(s): y, z",
        "model 2 lacks 1 key(s): x",
    ]


def test_non_tensor_values_are_rejected():
    with pytest.raises(MergeError, match="model 1 holds non-tensor values under: w"):
        interpolate({"w": torch.zeros(1)}, {"w": [0.0]}, 0.5, names=["model 0", "model 1"])


def test_task_vector_merges_check_base_against_every_finetuned_model():
    base = {"w": torch.zeros(2)}
    with pytest.raises(MergeError) as info:
        task_arithmetic(base, [{"w": torch.zeros(2)}, {"w": torch.zeros(3)}], 1.0)
    assert info.value.differences == [
        "w: shape differs: base (2,), finetuned 0 (2,), finetuned 1 (3,)"
    ]


def test_merge_error_is_a_value_error():
    assert issubclass(MergeError, ValueError)
