"""Task vectors and the merges built on them: task arithmetic, TIES and DARE.

A *task vector* is ``finetuned - base`` over the merged keys of :mod:`unival.merging.state`
(floating-point tensors that are not frozen), stored in at least float32. Tied tensors share
one task-vector tensor under all their names; every operation here works once per shared
tensor, so ties stay consistent (DARE draws one mask per tied group).

* :func:`task_arithmetic`: ``base + scale * sum_i tau_i`` (Ilharco et al., 2023).
* :func:`ties_merge`: ``base + scale * ties(tau_1..tau_n)`` (Yadav et al., 2023) where
  ``ties`` (a) trims each task vector to its ``ceil(density * n)`` largest magnitudes (every
  entry tied with the k-th magnitude is kept too), counted over the whole model
  (``trim_scope="global"``, the paper) or per tensor (``"tensor"``); (b) elects per entry the
  sign of the sum of the trimmed values; (c) takes the mean of the trimmed values that are
  non-zero and have the elected sign (disjoint mean). An entry whose sum is exactly 0, or
  where no value agrees, becomes 0 (the paper's code falls back to a global majority sign).
* :func:`dare` (Yu et al., 2024): drop each entry with probability ``p`` and rescale the kept
  ones by ``1 / (1 - p)``, seeded per key (reproducible, independent of dict order). Both
  merges accept ``dare_rate``; task vector ``i`` then uses seed ``seed + i``, before TIES.

A merge that would make a BatchNorm ``running_var`` negative is refused (:class:`MergeError`
naming the keys): freeze the running statistics (copied from ``base``) or lower the scale.
Integer buffers and frozen keys of the result are copied from ``base``; the metadata notes of
``plan_merge([base, *finetuned])`` list the ones that differ (e.g. ``num_batches_tracked``).
"""

from __future__ import annotations

import functools
import math
import zlib
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from unival.merging.state import (
    FrozenSpec,
    MergeError,
    StateDict,
    accumulation_dtype,
    copy_group_values,
    in_key_order,
    plan_merge,
    shared_storage_groups,
)

TaskVector = Dict[str, torch.Tensor]
TRIM_SCOPES = ("global", "tensor")


def _unique_entries(vector: TaskVector) -> List[Tuple[Tuple[str, ...], torch.Tensor]]:
    """``(names, tensor)`` once per distinct tensor of ``vector`` (tied names grouped)."""
    tied = {key: group for group in shared_storage_groups(vector) for key in group}
    seen, entries = set(), []
    for key, tensor in vector.items():
        group = tied.get(key, (key,))
        if group[0] not in seen:
            seen.add(group[0])
            entries.append((group, tensor))
    return entries


def _map_entries(vector: TaskVector, fn: Callable[[str, torch.Tensor], torch.Tensor]) -> TaskVector:
    """Apply ``fn(first_name, tensor)`` once per distinct tensor; ties stay shared."""
    result = {}
    for group, tensor in _unique_entries(vector):
        value = fn(group[0], tensor)
        for key in group:
            result[key] = value
    return {key: result[key] for key in vector}


def task_vector(
    base: StateDict,
    finetuned: StateDict,
    *,
    frozen_keys: FrozenSpec = None,
    names: Sequence[str] = ("base", "finetuned"),
) -> TaskVector:
    """``finetuned - base`` over the merged keys (float, not frozen), in at least float32."""
    return task_vectors(base, [finetuned], frozen_keys=frozen_keys, names=names)[0]


def task_vectors(
    base: StateDict,
    finetuned: Sequence[StateDict],
    *,
    frozen_keys: FrozenSpec = None,
    names: Optional[Sequence[str]] = None,
) -> List[TaskVector]:
    """One task vector per fine-tuned state dict (all checked strictly against ``base``)."""
    if not finetuned:
        raise ValueError("task_vectors needs at least one fine-tuned state dict")
    if names is None:
        names = ["base"] + [f"finetuned {i}" for i in range(len(finetuned))]
    plan = plan_merge([base, *finetuned], names=names, frozen_keys=frozen_keys)
    vectors = []
    for state in finetuned:
        vector = {}
        for group in plan.merge_groups:
            dtype = accumulation_dtype(base[group[0]].dtype)
            delta = state[group[0]].detach().to(dtype) - base[group[0]].detach().to(dtype)
            for key in group:
                vector[key] = delta
        vectors.append({key: vector[key] for key in plan.keys if key in vector})
    return vectors


def apply_task_vectors(
    base: StateDict, vectors: Sequence[TaskVector], scale: float, *, frozen_keys: FrozenSpec = None
) -> Dict[str, torch.Tensor]:
    """``base + scale * sum(vectors)``; each vector must cover exactly ``base``'s merged keys
    with matching shapes and equal values under tied names (else :class:`MergeError`)."""
    scale = float(scale)
    if not math.isfinite(scale):
        raise ValueError(f"scale must be finite, got {scale}")
    plan = plan_merge([base], names=["base"], frozen_keys=frozen_keys)
    expected = set(plan.merged_keys)
    problems = []
    for i, vector in enumerate(vectors):
        missing = [key for key in plan.merged_keys if key not in vector]
        extra = [key for key in vector if key not in expected]
        if missing:
            problems.append(f"task vector {i} lacks merged key(s): {', '.join(missing)}")
        if extra:
            problems.append(
                f"task vector {i} has key(s) that are not merged keys of base "
                f"(integer, frozen or unknown): {', '.join(extra)}"
            )
        for group in plan.merge_groups:
            present = [key for key in group if key in vector]
            for key in present:
                if tuple(vector[key].shape) != tuple(base[key].shape):
                    problems.append(
                        f"task vector {i}: {key} has shape {tuple(vector[key].shape)},"
                        f" base has {tuple(base[key].shape)}"
                    )
            if len(present) == len(group) > 1 and not all(
                torch.equal(vector[key], vector[group[0]]) for key in group[1:]
            ):
                problems.append(f"task vector {i}: tied keys {', '.join(group)} differ")
    if problems:
        raise MergeError(problems, what="task vectors do not fit the base model")
    values = copy_group_values(base, plan)
    for group in plan.merge_groups:
        original = base[group[0]].detach()
        total = original.to(accumulation_dtype(original.dtype))
        delta = torch.zeros_like(total)
        for vector in vectors:
            delta += vector[group[0]].to(total.dtype)
        merged = (total + scale * delta).to(original.dtype)
        for key in group:
            values[key] = merged
    _refuse_negative_variances(values)
    return in_key_order(values, plan)


# BatchNorm keeps a running variance; interpolation keeps it positive, extrapolation may not.
VARIANCE_SUFFIX = "running_var"


def _refuse_negative_variances(values: Dict[str, torch.Tensor]) -> None:
    """A merge that makes a ``*.running_var`` entry negative yields a model whose normalisation
    takes the square root of a negative number (NaN outputs): refuse it, naming every key."""
    bad = [
        f"{key} (min {float(tensor.min()):.4g})"
        for key, tensor in values.items()
        if key.endswith(VARIANCE_SUFFIX)
        and tensor.is_floating_point()
        and tensor.numel()
        and bool((tensor < 0).any())
    ]
    if bad:
        raise MergeError(
            bad,
            what=(
                "the task-vector merge makes BatchNorm running variances "
                "negative (the model would output NaN); lower the scale or "
                "copy the statistics from the base with frozen keys "
                "re.compile(r'running_(mean|var)$') (--frozen-keys on the CLI)"
            ),
        )


def _key_seed(seed: int, key: str) -> int:
    """A per-key seed from ``seed`` and the key's name (stable across runs and dict orders)."""
    return (int(seed) * 0x9E3779B1 + zlib.crc32(key.encode("utf-8"))) % (2**63)


def dare(vector: TaskVector, drop_rate: float, seed: int) -> TaskVector:
    """Drop each entry with probability ``drop_rate`` and scale the kept ones by
    ``1 / (1 - drop_rate)``, so the expectation equals ``vector``. Deterministic in ``seed``."""
    drop_rate = float(drop_rate)
    if not 0.0 <= drop_rate < 1.0:
        raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")

    def drop(key: str, tensor: torch.Tensor) -> torch.Tensor:
        generator = torch.Generator().manual_seed(_key_seed(seed, key))
        keep = torch.rand(tensor.shape, generator=generator) >= drop_rate
        kept = tensor.detach() / (1.0 - drop_rate)
        return torch.where(keep.to(tensor.device), kept, torch.zeros_like(kept))

    return _map_entries(vector, drop)


def _keep_count(numel: int, density: float) -> int:
    return min(numel, math.ceil(density * numel - 1e-9))


def _threshold(magnitudes: torch.Tensor, density: float) -> float:
    """The k-th largest value of the flat ``magnitudes`` (k = ceil(density * n))."""
    k = _keep_count(magnitudes.numel(), density)
    if k == 0:
        return math.inf
    return float(torch.kthvalue(magnitudes, magnitudes.numel() - k + 1).values)


def trim_to_density(vector: TaskVector, density: float, scope: str = "global") -> TaskVector:
    """Zero all but the ``ceil(density * n)`` largest-magnitude entries (ties at the k-th
    magnitude all kept); ``n`` counts the whole vector (``"global"``) or each tensor."""
    density = float(density)
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")
    if scope not in TRIM_SCOPES:
        raise ValueError(f"trim scope must be one of {TRIM_SCOPES}, got {scope!r}")
    entries = _unique_entries(vector)
    if scope == "global" and entries:
        dtype = functools.reduce(torch.promote_types, [t.dtype for _, t in entries])
        flat = torch.cat([t.detach().abs().flatten().to(dtype) for _, t in entries])
        cut = _threshold(flat, density)

    def trim(key: str, tensor: torch.Tensor) -> torch.Tensor:
        magnitudes = tensor.detach().abs()
        limit = cut if scope == "global" else _threshold(magnitudes.flatten(), density)
        return torch.where(magnitudes >= limit, tensor.detach(), torch.zeros_like(tensor))

    return _map_entries(vector, trim)


def elect_and_mean(vectors: Sequence[TaskVector]) -> TaskVector:
    """TIES steps (b) and (c) on already trimmed vectors: per entry, the mean of the non-zero
    values whose sign is the sign of the entry's sum; 0 where the sum is 0 or none agree."""
    if not vectors:
        raise ValueError("elect_and_mean needs at least one task vector")

    def merge(key: str, tensor: torch.Tensor) -> torch.Tensor:
        stacked = torch.stack([vector[key].detach() for vector in vectors])
        elected = torch.sign(stacked.sum(dim=0))
        agree = (torch.sign(stacked) == elected) & (elected != 0)
        count = agree.sum(dim=0)
        total = torch.where(agree, stacked, torch.zeros_like(stacked)).sum(dim=0)
        return total / count.clamp(min=1).to(total.dtype)

    return _map_entries(vectors[0], merge)


def ties_combine(
    vectors: Sequence[TaskVector], density: float, trim_scope: str = "global"
) -> TaskVector:
    """Trim each vector, elect signs, disjoint mean: the one merged TIES task vector."""
    return elect_and_mean([trim_to_density(v, density, trim_scope) for v in vectors])


def _maybe_dare(vectors: List[TaskVector], dare_rate: float, seed: int) -> List[TaskVector]:
    if not dare_rate:
        return vectors
    return [dare(vector, dare_rate, seed + i) for i, vector in enumerate(vectors)]


def task_arithmetic(
    base: StateDict,
    finetuned: Sequence[StateDict],
    scale: float,
    *,
    frozen_keys: FrozenSpec = None,
    dare_rate: float = 0.0,
    seed: int = 0,
    names: Optional[Sequence[str]] = None,
) -> Dict[str, torch.Tensor]:
    """``base + scale * sum_i (finetuned_i - base)`` (optionally DARE on each task vector).
    With ``scale = 1 / n`` and no DARE this is the uniform average of ``finetuned``."""
    vectors = task_vectors(base, finetuned, frozen_keys=frozen_keys, names=names)
    vectors = _maybe_dare(vectors, dare_rate, seed)
    return apply_task_vectors(base, vectors, scale, frozen_keys=frozen_keys)


def ties_merge(
    base: StateDict,
    finetuned: Sequence[StateDict],
    density: float,
    scale: float = 1.0,
    *,
    trim_scope: str = "global",
    frozen_keys: FrozenSpec = None,
    dare_rate: float = 0.0,
    seed: int = 0,
    names: Optional[Sequence[str]] = None,
) -> Dict[str, torch.Tensor]:
    """``base + scale * ties_combine(task vectors)`` (DARE, if asked, before trimming)."""
    vectors = task_vectors(base, finetuned, frozen_keys=frozen_keys, names=names)
    vectors = _maybe_dare(vectors, dare_rate, seed)
    merged = ties_combine(vectors, density, trim_scope)
    return apply_task_vectors(base, [merged], scale, frozen_keys=frozen_keys)
