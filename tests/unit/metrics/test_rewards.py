"""Reward functions of the SCST criterions on cases small enough to compute by hand."""

import math
import pickle
from collections import defaultdict

import pytest
import torch

from unival.criterions.cider_cache import load_cider_cached_tokens
from unival.metrics.caption import CiderDocumentFrequency
from unival.metrics.rewards import (
    cider_rewards,
    grounding_rewards,
    leave_one_out_baseline,
    mention_counts,
)
from unival.probes.ground_truth import toy_vocabulary

# Two images: "a cat" and "a dog". "a" has df 2 (idf 0), "cat", "dog", "a cat", "a dog"
# df 1 (idf ln 2).
STATS = CiderDocumentFrequency.from_references([["a cat"], ["a dog"]])


def test_cider_reward_of_an_exact_match_and_of_a_miss():
    # exact match: cosine 1 for 1-grams and 2-grams, empty 3/4-grams score 0 -> 10 * (1 + 1) / 4 = 5
    rewards = cider_rewards(["A cat.", "a dog", "cat"], [["a cat"], ["a cat"], ["a cat"]], STATS)
    assert rewards[0].item() == pytest.approx(5.0)
    assert rewards[1].item() == pytest.approx(0.0)  # only "a" (idf 0) is shared
    # "cat" vs "a cat": 1-gram cosine (ln2 * ln2) / (ln2 * ln2) = 1, no 2-gram; length penalty
    # exp(-(0 - 1)^2 / 72) (pycocoevalcap's length counts 2-grams) -> 10 * exp(-1/72) / 4
    assert rewards[2].item() == pytest.approx(10 * math.exp(-1 / 72) / 4)


def test_cider_rewards_need_references():
    with pytest.raises(ValueError, match="no reference"):
        cider_rewards(["a cat"], [[]], STATS)


def test_leave_one_out_baseline():
    b = leave_one_out_baseline(torch.tensor([[1.0, 2.0, 3.0], [0.0, 4.0, 8.0]]))
    assert b.tolist() == [[2.5, 2.0, 1.5], [6.0, 4.0, 2.0]]
    with pytest.raises(ValueError, match="K >= 2"):
        leave_one_out_baseline(torch.tensor([[1.0]]))


TOY_GT = {"red circle", "circle", "blue square", "square"}  # a red circle and a blue square


@pytest.mark.parametrize(
    "caption, gt, expected",
    [
        # longest match first: "red circle" and "green triangle" are one mention each (no bare
        # "triangle" is mentioned), and only the green triangle is absent
        ("a red circle and a green triangle", TOY_GT, 1),
        # "green square" (the square is blue) and "triangles" -> "triangle" (none at all); sizes
        # are not objects
        ("a big green square next to two triangles", TOY_GT, 2),
        # repeats count once; "circle" and "blue square" are both in the scene
        ("a blue square, a blue square and a circle", TOY_GT, 0),
        ("a yellow circle left of a yellow circle", TOY_GT, 1),
        ("an empty picture", TOY_GT, 0),
        ("a circle", set(), 1),  # an image without objects: every mention is hallucinated
    ],
)
def test_hallucinated_mentions_on_toy_captions(caption, gt, expected):
    counts = mention_counts([caption], [gt], toy_vocabulary())[0]
    assert counts.dtype == torch.float64 and counts.tolist() == [expected]


def test_mention_counts_split_hallucinated_from_correct_mentions():
    hallucinated, correct = mention_counts(
        [
            "a red circle and a green triangle",
            "a blue square, a blue square and a circle",
            "there are two shapes a big red",
        ],
        [TOY_GT] * 3,
        toy_vocabulary(),
    )
    # 1: red circle right, green triangle not; 2: blue square and circle right (repeat once);
    # 3: a caption cut before its noun names nothing, neither right nor wrong
    assert hallucinated.tolist() == [1.0, 0.0, 0.0] and correct.tolist() == [1.0, 2.0, 0.0]


def test_mention_counts_pair_each_caption_with_its_own_objects():
    hallucinated, correct = mention_counts(
        ["a red circle", "a red circle"], [TOY_GT, {"square", "blue square"}], toy_vocabulary()
    )
    assert hallucinated.tolist() == [0.0, 1.0] and correct.tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="2 hypotheses but 1 ground-truth"):
        mention_counts(["a", "b"], [TOY_GT], toy_vocabulary())


GT = [
    [0, 0, 100, 100],
    [0, 0, 200, 200],
    [0, 0, 400, 400],
]  # areas 1e4 (small), 4e4 (medium), 1.6e5 (large)
PRED = [[0, 0, 100, 100], [0, 0, 200, 110], [100, 100, 400, 400]]  # IoU 1, 0.55, 0.5625


def test_grounding_reward_acc_and_iou():
    assert grounding_rewards(PRED, GT, 0.5).tolist() == [1.0, 1.0, 1.0]
    assert grounding_rewards(PRED, GT, 0.6).tolist() == [1.0, 0.0, 0.0]
    ious = grounding_rewards(PRED, GT, None)
    assert ious.tolist() == pytest.approx([1.0, 0.55, 0.5625], abs=1e-6)


@pytest.mark.parametrize(
    "bounds, expected",
    [
        (dict(max_area=30000.0), [1.0, 0.0, 0.0]),  # small
        (dict(min_area=100000.0), [0.0, 0.0, 1.0]),  # large
        (dict(max_area=30000.0, min_area=100000.0, medium=True), [0.0, 1.0, 0.0]),  # medium
        (dict(max_area=30000.0, min_area=100000.0), [1.0, 0.0, 1.0]),  # small + large
        (dict(max_area=30000.0, medium=True), [0.0, 1.0, 1.0]),  # medium + large
        (dict(min_area=100000.0, medium=True), [1.0, 1.0, 0.0]),  # medium + small
    ],
)
def test_area_buckets(bounds, expected):
    assert grounding_rewards(PRED, GT, 0.5, **bounds).tolist() == expected


def test_pos_and_neg_reward_replace_one_and_zero():
    r = grounding_rewards(PRED, GT, 0.6, pos_reward=2.0, neg_reward=-1.0)
    assert r.tolist() == [2.0, -1.0, -1.0]


def test_reference_cider_cache_is_read_and_code_is_refused(tmp_path):
    df = defaultdict(float, {("a",): 2.0, ("cat",): 1.0})
    good = tmp_path / "words.p"
    good.write_bytes(pickle.dumps({"document_frequency": df, "ref_len": math.log(2.0)}))
    stats = load_cider_cached_tokens(str(good))
    assert stats.df == {("a",): 2.0, ("cat",): 1.0} and stats.log_num_images == pytest.approx(
        math.log(2)
    )
    bad = tmp_path / "evil.p"
    bad.write_bytes(pickle.dumps({"document_frequency": df, "ref_len": 1.0, "x": print}))
    with pytest.raises(pickle.UnpicklingError, match="calls 'builtins.print'"):
        load_cider_cached_tokens(str(bad))
