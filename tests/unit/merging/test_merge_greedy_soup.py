"""Greedy soup: a candidate joins only when the held-out metric of the average improves."""

import math

import pytest
import torch

from unival.merging import greedy_soup


def _candidates(*values):
    return [{"w": torch.tensor([value]), "n": torch.tensor(i)} for i, value in enumerate(values)]


def closeness_to_two(state):
    return -abs(state["w"].item() - 2.0)


def test_greedy_soup_worked_by_hand():
    # individual scores -0.5, -1, -1, -3 (sorted best first)
    # soup {2.5}: -0.5; +1.0 -> 1.75: -0.25 kept; +3.0 -> 6.5/3: -1/6 kept; +5.0 -> 2.875 rejected
    calls = []

    def evaluate(state):
        calls.append(state["w"].item())
        return closeness_to_two(state)

    result = greedy_soup(_candidates(2.5, 1.0, 3.0, 5.0), evaluate)
    assert result.members == [0, 1, 2]
    assert math.isclose(result.state["w"].item(), 6.5 / 3.0, rel_tol=1e-6)
    assert math.isclose(result.score, -1.0 / 6.0, rel_tol=1e-5)
    assert [step.accepted for step in result.steps] == [True, True, True, False]
    assert math.isclose(calls[-1], 11.5 / 4.0, rel_tol=1e-6)
    assert len(calls) == 4
    assert result.state["n"].item() == 0  # integer buffers of the first candidate


def test_lower_is_better_and_equal_scores_are_not_improvements():
    distance = lambda state: abs(state["w"].item() - 2.0)  # noqa: E731
    result = greedy_soup(_candidates(2.0, 2.0, 1.0), distance, higher_is_better=False)
    assert result.members == [0]  # 2.0 ties (no gain), 1.5 is worse
    assert result.score == 0.0


def test_candidates_can_be_loaded_lazily_and_nan_trials_are_rejected():
    loaded = []

    def loader(value):
        def load():
            loaded.append(value)
            return {"w": torch.tensor([value])}

        return load

    def evaluate(state):
        return float("nan") if state["w"].item() > 10 else closeness_to_two(state)

    result = greedy_soup([loader(2.5), loader(41.0), loader(1.5)], evaluate)
    assert loaded == [2.5, 41.0, 1.5]
    assert result.members == [0, 2]
    assert result.state["w"].item() == 2.0


def test_first_candidate_scoring_nan_is_an_error():
    with pytest.raises(ValueError, match="scored NaN"):
        greedy_soup(_candidates(1.0), lambda state: float("nan"))
