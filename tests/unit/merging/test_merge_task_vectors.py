"""Task arithmetic, TIES and DARE on cases worked by hand."""

import re

import pytest
import torch

from unival.merging import (
    MergeError,
    apply_task_vectors,
    average,
    dare,
    task_arithmetic,
    task_vector,
    ties_combine,
    ties_merge,
    trim_to_density,
)


def test_task_vector_is_finetuned_minus_base_in_float32():
    base = {"h": torch.tensor([1.0, 2.0], dtype=torch.float16), "n": torch.tensor(3)}
    tuned = {"h": torch.tensor([1.5, 1.0], dtype=torch.float16), "n": torch.tensor(5)}
    vector = task_vector(base, tuned)
    assert list(vector) == ["h"]  # integer buffers have no task vector
    assert vector["h"].dtype == torch.float32
    assert torch.equal(vector["h"], torch.tensor([0.5, -1.0]))


def test_task_arithmetic_by_hand():
    base = {"w": torch.tensor([1.0, 1.0]), "bn.num_batches_tracked": torch.tensor(10)}
    tuned = [
        {"w": torch.tensor([2.0, 3.0]), "bn.num_batches_tracked": torch.tensor(20)},
        {"w": torch.tensor([0.0, 5.0]), "bn.num_batches_tracked": torch.tensor(30)},
    ]
    merged = task_arithmetic(base, tuned, 0.5)  # tau = [1, 2] and [-1, 4]
    assert torch.equal(merged["w"], torch.tensor([1.0, 4.0]))
    assert merged["bn.num_batches_tracked"].item() == 10  # copied from the base
    assert torch.equal(task_arithmetic(base, tuned, 0.0)["w"], base["w"])


def test_task_arithmetic_with_scale_one_over_n_is_the_average():
    generator = torch.Generator().manual_seed(0)
    base = {"w": torch.randn(4, generator=generator)}
    tuned = [{"w": torch.randn(4, generator=generator)} for _ in range(3)]
    merged = task_arithmetic(base, tuned, 1.0 / 3.0)
    assert torch.allclose(merged["w"], average(tuned)["w"], rtol=0, atol=1e-6)


def _ties_case():
    base = {"w": torch.tensor([1.0, 1.0, 1.0, 1.0])}
    deltas = ([3.0, -1.0, 0.5, -2.0], [-4.0, 2.0, 1.0, -1.0], [2.0, 0.5, -3.0, -0.25])
    return base, [{"w": base["w"] + torch.tensor(delta)} for delta in deltas]


def test_ties_worked_by_hand():
    # trimmed to 2 of 4: [3, 0, 0, -2], [-4, 2, 0, 0], [2, 0, -3, 0]
    # sums [1, 2, -3, -2] -> signs [+, +, -, -]
    # disjoint means: mean(3, 2) = 2.5, 2, -3, -2
    base, tuned = _ties_case()
    assert torch.equal(
        ties_merge(base, tuned, density=0.5)["w"], torch.tensor([3.5, 3.0, -2.0, -1.0])
    )
    assert torch.equal(
        ties_merge(base, tuned, density=0.5, scale=0.5)["w"], torch.tensor([2.25, 2.0, -0.5, 0.0])
    )


def test_ties_with_full_density_is_the_disjoint_mean():
    # no trimming: sums [1.0, 1.5, -1.5, -3.25]; agreeing values averaged
    base, tuned = _ties_case()
    expected = torch.tensor([(3.0 + 2.0) / 2, (2.0 + 0.5) / 2, -3.0, (-2.0 - 1.0 - 0.25) / 3])
    assert torch.allclose(
        ties_merge(base, tuned, density=1.0)["w"] - 1.0, expected, rtol=0, atol=1e-6
    )


def test_ties_sign_tie_gives_zero():
    base = {"w": torch.zeros(2)}
    tuned = [{"w": torch.tensor([2.0, 1.0])}, {"w": torch.tensor([-2.0, 1.0])}]
    assert torch.equal(ties_merge(base, tuned, density=1.0)["w"], torch.tensor([0.0, 1.0]))


def test_trim_keeps_ceil_density_n_and_every_value_tied_at_the_threshold():
    assert torch.equal(
        trim_to_density({"w": torch.tensor([1.0, -4.0, 3.0, 2.0])}, 0.3)["w"],
        torch.tensor([0.0, -4.0, 3.0, 0.0]),
    )  # ceil(1.2) = 2 kept
    assert torch.equal(
        trim_to_density({"w": torch.tensor([2.0, -2.0, 1.0, 0.0])}, 0.25)["w"],
        torch.tensor([2.0, -2.0, 0.0, 0.0]),
    )
    with pytest.raises(ValueError, match="density"):
        trim_to_density({"w": torch.ones(2)}, 0.0)


def test_trim_scope_global_versus_per_tensor():
    vector = {"a": torch.tensor([10.0, 9.0]), "b": torch.tensor([2.0, 1.0])}
    globally = trim_to_density(vector, 0.5, "global")  # the 2 largest of all 4
    assert torch.equal(globally["a"], torch.tensor([10.0, 9.0]))
    assert torch.equal(globally["b"], torch.tensor([0.0, 0.0]))
    per_tensor = trim_to_density(vector, 0.5, "tensor")  # the largest of each
    assert torch.equal(per_tensor["a"], torch.tensor([10.0, 0.0]))
    assert torch.equal(per_tensor["b"], torch.tensor([2.0, 0.0]))


def test_global_trim_counts_a_tied_tensor_once():
    shared = torch.tensor([5.0, 1.0])
    vector = {"enc.embed": shared, "dec.embed": shared, "fc": torch.tensor([4.0, 3.0])}
    # distinct entries: 5, 1, 4, 3 -> keep 2: 5 and 4 (counting the tie thrice would keep 5, 1)
    trimmed = trim_to_density(vector, 0.5)
    assert torch.equal(trimmed["enc.embed"], torch.tensor([5.0, 0.0]))
    assert torch.equal(trimmed["fc"], torch.tensor([4.0, 0.0]))
    assert trimmed["enc.embed"] is trimmed["dec.embed"]


def test_dare_is_reproducible_and_keeps_scaled_values():
    vector = {"w": torch.arange(1.0, 1001.0)}
    first, again, other = (
        dare(vector, 0.3, seed=7),
        dare(vector, 0.3, seed=7),
        dare(vector, 0.3, seed=8),
    )
    assert torch.equal(first["w"], again["w"])
    assert not torch.equal(first["w"], other["w"])
    kept = first["w"] != 0
    assert torch.allclose(first["w"][kept], vector["w"][kept] / 0.7, rtol=1e-6, atol=0)
    assert abs((~kept).float().mean().item() - 0.3) < 0.05
    assert torch.equal(dare(vector, 0.0, seed=1)["w"], vector["w"])
    with pytest.raises(ValueError, match="drop_rate"):
        dare(vector, 1.0, seed=0)


def test_dare_mask_depends_on_the_key_not_on_dict_order():
    x, y = torch.arange(1.0, 65.0), torch.arange(1.0, 65.0)
    forward = dare({"x": x, "y": y}, 0.5, seed=3)
    backward = dare({"y": y, "x": x}, 0.5, seed=3)
    assert torch.equal(forward["x"], backward["x"]) and torch.equal(forward["y"], backward["y"])
    assert not torch.equal(forward["x"], forward["y"])  # distinct keys, distinct masks


def test_dare_expectation_over_seeds_is_the_original():
    vector = {"w": torch.tensor([1.0, -2.0, 0.5, 4.0])}
    total = torch.zeros(4, dtype=torch.float64)
    seeds = 4000
    for seed in range(seeds):
        total += dare(vector, 0.5, seed)["w"].double()
    mean = total / seeds
    # each draw has std |x| (p = 0.5): the mean's std is |x| / 63; allow 5 of those
    assert torch.all((mean - vector["w"].double()).abs() <= 5 * vector["w"].abs().double() / 63)


def test_dare_draws_one_mask_per_tied_group():
    shared = torch.arange(1.0, 33.0)
    dropped = dare({"enc.embed": shared, "dec.embed": shared, "out.proj": shared}, 0.5, seed=0)
    assert dropped["enc.embed"] is dropped["dec.embed"] is dropped["out.proj"]


def test_task_arithmetic_with_dare_uses_seed_plus_index_per_task_vector():
    base = {"w": torch.zeros(16)}
    tuned = [{"w": torch.arange(1.0, 17.0)}, {"w": -torch.arange(1.0, 17.0)}]
    merged = task_arithmetic(base, tuned, 1.0, dare_rate=0.5, seed=4)
    expected = dare({"w": tuned[0]["w"]}, 0.5, 4)["w"] + dare({"w": tuned[1]["w"]}, 0.5, 5)["w"]
    assert torch.equal(merged["w"], expected)
    assert torch.equal(merged["w"], task_arithmetic(base, tuned, 1.0, dare_rate=0.5, seed=4)["w"])


def test_ties_combine_of_one_vector_is_the_trimmed_vector():
    vector = {"w": torch.tensor([1.0, -3.0, 2.0, 0.5])}
    assert torch.equal(ties_combine([vector], 0.5)["w"], torch.tensor([0.0, -3.0, 2.0, 0.0]))


def test_apply_task_vectors_rejects_vectors_that_do_not_fit():
    base = {"w": torch.zeros(2), "n": torch.tensor(1)}
    with pytest.raises(MergeError) as info:
        apply_task_vectors(base, [{"w": torch.zeros(3), "n": torch.zeros(1)}, {}], 1.0)
    assert info.value.differences == [
        "task vector 0 has key(s) that are not merged keys of base (integer, frozen or unknown): n",
        "task vector 0: w has shape (3,), base has (2,)",
        "task vector 1 lacks merged key(s): w",
    ]


def test_task_arithmetic_refuses_a_negative_batchnorm_variance_and_freezing_fixes_it():
    base = {"bn.weight": torch.ones(2), "bn.running_var": torch.tensor([1.0, 1.0])}
    tuned = [
        {"bn.weight": torch.ones(2), "bn.running_var": torch.tensor([0.2, 1.5])},
        {"bn.weight": torch.ones(2), "bn.running_var": torch.tensor([0.4, 1.0])},
    ]
    # tau = [-0.8, 0.5] + [-0.6, 0.0] = [-1.4, 0.5]: scale 0.5 -> [0.3, 1.25] (allowed),
    # scale 1 -> [-0.4, 1.5] (a negative variance).
    assert torch.allclose(
        task_arithmetic(base, tuned, 0.5)["bn.running_var"], torch.tensor([0.3, 1.25])
    )
    with pytest.raises(MergeError, match=r"bn\.running_var \(min -0\.4\)"):
        task_arithmetic(base, tuned, 1.0)
    frozen = task_arithmetic(base, tuned, 1.0, frozen_keys=[re.compile(r"running_(mean|var)$")])
    assert torch.equal(frozen["bn.running_var"], base["bn.running_var"])
