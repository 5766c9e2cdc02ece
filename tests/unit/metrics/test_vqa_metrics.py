"""VQA metrics on cases computed by hand."""

import pytest

from unival.metrics.vqa import (
    confidence_score,
    mean_confidence_score,
    mean_vqa_soft_accuracy,
    normalize_vqa_answer,
    vqa_soft_accuracy,
)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Yes", "yes"),
        ("Two.", "2"),  # number word, final period deleted
        ("the dog", "dog"),  # article dropped
        ("A red, white car", "red white car"),  # ", " next to a space: deleted
        ("black/white", "black white"),  # no space around: replaced by a space
        ("1,000", "1000"),  # digit-comma-digit: punctuation deleted
        ("3.5", "3.5"),  # period before a digit kept
        ("dont know", "don't know"),  # contraction restored
        ("couldntve", "couldn't've"),
        ("  ten\tapples\n", "10 apples"),
    ],
)
def test_answer_normalisation(raw, expected):
    assert normalize_vqa_answer(raw) == expected


def test_soft_accuracy_over_leave_one_out_subsets():
    others = ["no"] * 10
    # 2 matching annotators: 2 subsets see 1 match (1/3), 8 see 2 (2/3): (2/3 + 16/3) / 10 = 0.6
    assert vqa_soft_accuracy("yes", ["yes"] * 2 + others[:8]) == pytest.approx(0.6)
    # 3 matching: 3 subsets see 2 (2/3), 7 see 3 (1): (2 + 7) / 10 = 0.9
    assert vqa_soft_accuracy("yes", ["yes"] * 3 + others[:7]) == pytest.approx(0.9)
    assert vqa_soft_accuracy("yes", ["yes"] * 4 + others[:6]) == pytest.approx(1.0)
    assert vqa_soft_accuracy("yes", ["yes"] + others[:9]) == pytest.approx(1 / 3 * 9 / 10)
    assert vqa_soft_accuracy("maybe", others) == 0.0
    # normalisation on both sides: "Two" == "2", "the cat" == "cat"
    assert vqa_soft_accuracy("Two", ["2"] * 3 + ["3"] * 7) == pytest.approx(0.9)
    assert vqa_soft_accuracy("cat", ["the cat"] * 10) == 1.0
    with pytest.raises(ValueError):
        vqa_soft_accuracy("yes", [])


def test_official_quirk_compares_unanimous_answers_verbatim():
    assert vqa_soft_accuracy("two", ["two"] * 10) == 1.0
    # the official script normalises the prediction ("2") but not unanimous annotators ("two")
    assert vqa_soft_accuracy("two", ["two"] * 10, official_quirks=True) == 0.0
    assert vqa_soft_accuracy("two", ["two"] * 9 + ["3"], official_quirks=True) == pytest.approx(1.0)


def test_confidence_scores():
    refs = {"no": 0.6, "yes": 1.0}
    assert confidence_score("no", refs) == 0.6 and confidence_score("maybe", refs) == 0.0
    assert mean_confidence_score(["no", "yes", "x"], [refs, refs, refs]) == pytest.approx(1.6 / 3)
    assert mean_confidence_score([], []) == 0.0
    assert mean_vqa_soft_accuracy(["yes", "no"], [["yes"] * 10, ["yes"] * 10]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        mean_confidence_score(["a"], [])
