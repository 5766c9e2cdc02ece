"""POPE: answer reading and metrics against hand-computed confusion counts."""

import pytest

from unival.metrics.pope import (
    confusion_counts,
    pope_from_counts,
    pope_scores,
    pope_scores_by_group,
    yes_no,
)


@pytest.mark.parametrize(
    "answer, read",
    [
        ("Yes", "yes"),
        ("yes, there is.", "yes"),
        ("No.", "no"),
        ("maybe", "other"),
        ("", "other"),
        ("noodles", "other"),
    ],
)
def test_yes_no_reading(answer, read):
    assert yes_no(answer) == read


def test_pope_scores_on_hand_counts():
    labels = ["yes", "yes", "yes", "no", "no", "no", "no"]
    answers = ["Yes", "no", "yes, there is", "yes", "No.", "maybe", "no"]
    # TP: 1, 3; FN: 2; FP: 4; TN: 5, 6 ("maybe" is not a yes), 7
    assert confusion_counts(answers, labels) == {"tp": 2, "fp": 1, "tn": 3, "fn": 1, "n_other": 1}
    scores = pope_scores(answers, labels)
    assert scores["accuracy"] == pytest.approx(5 / 7)
    assert scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 / 3)
    assert (
        scores["yes_ratio"] == pytest.approx(3 / 7) and scores["n"] == 7 and scores["n_other"] == 1
    )


def test_pope_from_counts_unequal_precision_recall_and_zero_denominators():
    s = pope_from_counts(tp=6, fp=2, tn=8, fn=4)
    assert (s["precision"], s["recall"]) == (pytest.approx(0.75), pytest.approx(0.6))
    assert s["f1"] == pytest.approx(2 * 0.75 * 0.6 / 1.35) and s["yes_ratio"] == pytest.approx(0.4)
    assert (
        pope_from_counts(0, 0, 5, 0)["precision"] == 0.0
        and pope_from_counts(0, 0, 0, 0)["accuracy"] == 0.0
    )


def test_pope_groups_and_label_errors():
    rows = [("random", "yes", "yes"), ("random", "yes", "no"), ("adversarial", "no", "no")]
    grouped = pope_scores_by_group(rows)
    assert grouped["random"]["accuracy"] == 0.5 and grouped["adversarial"]["accuracy"] == 1.0
    assert grouped["all"]["accuracy"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="'yes' or 'no'"):
        pope_scores(["yes"], ["maybe"])
