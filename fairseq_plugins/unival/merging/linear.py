"""Linear weight merging: interpolation between two models and (weighted) averages.

Convention (used everywhere in the toolkit, the CLI file names included):
``interpolate(a, b, lam) = lam * a + (1 - lam) * b``, so ``lam = 1`` gives ``a`` and
``lam = 0`` gives ``b`` (the research code's ``θ(λ) = λ·θ_A + (1 − λ)·θ_B``).

The inputs are checked strictly and keys are treated as described in
:mod:`unival.merging.state` (integer buffers and frozen keys copied from the first model,
tied tensors merged once). Arithmetic runs in at least float32 and the result is cast back to
each key's dtype; terms with coefficient 0 are skipped, so the endpoints are exact copies.
All functions are pure: inputs are never modified and the result shares no memory with them.
"""

from __future__ import annotations

import logging
import math
from typing import Dict, Optional, Sequence

import torch

from unival.merging.state import (
    FrozenSpec,
    MergePlan,
    StateDict,
    accumulation_dtype,
    copy_group_values,
    in_key_order,
    plan_merge,
)

logger = logging.getLogger(__name__)

WEIGHT_SUM_TOLERANCE = 1e-6


def _check_coefficients(coefficients: Sequence[float], count: int, what: str) -> list:
    values = [float(c) for c in coefficients]
    if len(values) != count:
        raise ValueError(f"{len(values)} {what} given for {count} state dicts")
    bad = [c for c in values if not math.isfinite(c)]
    if bad:
        raise ValueError(f"{what} must be finite, got {values}")
    return values


def weighted_sum(tensors: Sequence[torch.Tensor], coefficients: Sequence[float]) -> torch.Tensor:
    """``sum_i c_i * t_i`` computed in at least float32, cast back to ``tensors[0].dtype``.

    Terms with ``c_i == 0`` are skipped (exact endpoints, even next to inf/nan values).
    """
    dtype = tensors[0].dtype
    total = torch.zeros(tensors[0].shape, dtype=accumulation_dtype(dtype), device=tensors[0].device)
    for tensor, coefficient in zip(tensors, coefficients):
        if coefficient != 0.0:
            total.add_(tensor.detach().to(total.dtype), alpha=coefficient)
    return total.to(dtype)


def combine_with_plan(
    states: Sequence[StateDict], coefficients: Sequence[float], plan: MergePlan
) -> Dict[str, torch.Tensor]:
    """Apply ``plan``: merged groups get ``sum_i c_i * state_i``, copied groups the first
    state's value; each tied group is computed once and stored under all its names."""
    values = copy_group_values(states[0], plan)
    for group in plan.merge_groups:
        merged = weighted_sum([state[group[0]] for state in states], coefficients)
        for key in group:
            values[key] = merged
    return in_key_order(values, plan)


def linear_combination(
    states: Sequence[StateDict],
    coefficients: Sequence[float],
    *,
    frozen_keys: FrozenSpec = None,
    names: Optional[Sequence[str]] = None,
) -> Dict[str, torch.Tensor]:
    """``sum_i c_i * state_i`` over the merged keys, with no constraint on the coefficients
    (extrapolation allowed). Copied keys come from ``states[0]``."""
    coefficients = _check_coefficients(coefficients, len(states), "coefficients")
    plan = plan_merge(states, names=names, frozen_keys=frozen_keys)
    return combine_with_plan(states, coefficients, plan)


def interpolate(
    a: StateDict,
    b: StateDict,
    lam: float,
    *,
    frozen_keys: FrozenSpec = None,
    names: Sequence[str] = ("A", "B"),
) -> Dict[str, torch.Tensor]:
    """``lam * a + (1 - lam) * b``; ``lam`` outside [0, 1] extrapolates (logged)."""
    lam = float(lam)
    if not math.isfinite(lam):
        raise ValueError(f"lambda must be finite, got {lam}")
    if not 0.0 <= lam <= 1.0:
        logger.warning("lambda %s is outside [0, 1]: extrapolating beyond the two models", lam)
    return linear_combination([a, b], [lam, 1.0 - lam], frozen_keys=frozen_keys, names=names)


def average(
    states: Sequence[StateDict],
    weights: Optional[Sequence[float]] = None,
    *,
    frozen_keys: FrozenSpec = None,
    names: Optional[Sequence[str]] = None,
) -> Dict[str, torch.Tensor]:
    """Uniform average of ``states`` or, with ``weights``, ``sum_i w_i * state_i``.

    ``weights`` must be non-negative and sum to 1 (within 1e-6); they are never renormalised
    silently.
    """
    if not states:
        raise ValueError("average needs at least one state dict")
    if weights is None:
        weights = [1.0 / len(states)] * len(states)
    weights = _check_coefficients(weights, len(states), "weights")
    negative = [w for w in weights if w < 0]
    if negative:
        raise ValueError(
            f"weights must be non-negative, got {weights} (use linear_combination to extrapolate)"
        )
    total = math.fsum(weights)
    if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
        raise ValueError(
            f"weights must sum to 1, they sum to {total!r}: divide them by "
            f"their sum first if a proportional average is meant"
        )
    return linear_combination(states, weights, frozen_keys=frozen_keys, names=names)
