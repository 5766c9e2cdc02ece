"""Greedy model soup (Wortsman et al., 2022): grow a uniform average one model at a time.

The candidates come sorted best-first by their own held-out metric (the caller sorts them).
The soup starts as the first candidate; each next candidate joins only if the uniform average
of the soup's members plus that candidate scores strictly better on the held-out metric.
Candidates may be state dicts or zero-argument callables returning one (loaded on demand, so
only the soup and one candidate are in memory at a time).

The running soup of ``m`` members is updated as ``m/(m+1) * soup + 1/(m+1) * candidate``,
which equals the uniform average of the members up to float rounding; integer buffers and
frozen keys stay those of the first candidate (:mod:`unival.merging.state`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

import torch

from unival.merging.linear import average
from unival.merging.state import FrozenSpec, StateDict, clone_state

logger = logging.getLogger(__name__)

Candidate = Union[StateDict, Callable[[], StateDict]]


@dataclass
class SoupStep:
    """One evaluation: ``index`` of the candidate tried (0 = the starting soup)."""

    index: int
    score: float
    accepted: bool


@dataclass
class SoupResult:
    """The final soup, the indices of its members, its score and every step taken."""

    state: Dict[str, torch.Tensor]
    members: List[int]
    score: float
    steps: List[SoupStep] = field(default_factory=list)


def _materialise(candidate: Candidate) -> StateDict:
    state = candidate if isinstance(candidate, Mapping) else candidate()
    if not isinstance(state, Mapping):
        raise TypeError(f"a soup candidate must be a state dict or return one, got {type(state)}")
    return state


def _improves(score: float, best: float, higher_is_better: bool) -> bool:
    if math.isnan(score):
        logger.warning("a soup trial scored NaN; counted as no improvement")
        return False
    return score > best if higher_is_better else score < best


def greedy_soup(
    candidates: Sequence[Candidate],
    evaluate_fn: Callable[[StateDict], float],
    *,
    higher_is_better: bool = True,
    frozen_keys: FrozenSpec = None,
    names: Optional[Sequence[str]] = None,
) -> SoupResult:
    """Greedy soup of ``candidates`` (sorted best-first) judged by ``evaluate_fn(state)``.

    ``evaluate_fn`` is called once on the first candidate, then once per later candidate.
    """
    if not candidates:
        raise ValueError("greedy_soup needs at least one candidate")
    names = list(names) if names is not None else [f"candidate {i}" for i in range(len(candidates))]
    soup = clone_state(_materialise(candidates[0]))
    best = float(evaluate_fn(soup))
    if math.isnan(best):
        raise ValueError(f"the first candidate ({names[0]}) scored NaN; cannot start the soup")
    members, steps = [0], [SoupStep(0, best, True)]
    logger.info("soup starts from %s: score %s", names[0], best)
    for index in range(1, len(candidates)):
        count = len(members)
        trial = average(
            [soup, _materialise(candidates[index])],
            weights=[count / (count + 1), 1.0 / (count + 1)],
            frozen_keys=frozen_keys,
            names=["soup", names[index]],
        )
        score = float(evaluate_fn(trial))
        accepted = _improves(score, best, higher_is_better)
        steps.append(SoupStep(index, score, accepted))
        logger.info(
            "%s %s: score %s (soup %s)",
            "added" if accepted else "rejected",
            names[index],
            score,
            best,
        )
        if accepted:
            soup, best = trial, score
            members.append(index)
    return SoupResult(state=soup, members=members, score=best, steps=steps)
