"""Strict comparison of state dicts before a merge, and the rules for what is merged.

Every merge in :mod:`unival.merging` starts with :func:`plan_merge`, which either raises one
:class:`MergeError` listing *every* incompatibility between the inputs or returns a
:class:`MergePlan` saying what happens to each key:

* **Strict inputs.** All state dicts must hold the same keys, every value must be a tensor,
  and each key must have the same shape and dtype in every model. Nothing is skipped,
  renormalised or filled in (unlike the research code's averaging script).
* **Merged keys.** Floating-point (and complex) tensors not named by ``frozen_keys``.
* **Copied keys.** Integer/bool buffers (BatchNorm ``num_batches_tracked``,
  ``*_rp_bucket``, ``image_position_idx``, ``version``) and the float tensors named by
  ``frozen_keys`` are copied from the *first* state dict. They are compared across models;
  a difference (typically ``num_batches_tracked``) is not an error: the first model's value
  is kept and the difference is recorded in :meth:`MergePlan.notes` (merge metadata) and
  logged.
* **Tied tensors.** Keys whose tensors are the same view of one storage in any input
  (``encoder.embed_tokens.weight`` = ``decoder.embed_tokens.weight`` =
  ``decoder.output_projection.weight`` in UnIVAL) form one group. The group must hold equal
  values under all its names in every input; it is merged once and the result holds one
  tensor under all those names (so it stays shared when saved).

``frozen_keys`` is an iterable of exact key names (``str``) and/or compiled regular
expressions (``re.Pattern``, matched with ``search``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import torch

logger = logging.getLogger(__name__)

StateDict = Mapping[str, torch.Tensor]
FrozenSpec = Optional[Iterable[Union[str, "re.Pattern[str]"]]]


class MergeError(ValueError):
    """The inputs of a merge are incompatible; ``differences`` lists every problem found."""

    def __init__(self, differences: Sequence[str], what: str = "state dicts cannot be merged"):
        self.differences = list(differences)
        lines = "\n  - ".join(self.differences)
        super().__init__(f"{what} ({len(self.differences)} problem(s)):\n  - {lines}")


def is_mergeable(tensor: torch.Tensor) -> bool:
    """True for tensors combined arithmetically (floating point or complex)."""
    return tensor.is_floating_point() or tensor.is_complex()


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype arithmetic on ``dtype`` tensors runs in: at least float32 (fp16/bf16 -> fp32)."""
    return torch.promote_types(dtype, torch.float32)


def shared_storage_groups(state: StateDict) -> List[Tuple[str, ...]]:
    """Groups (of 2 or more keys, in ``state`` order) whose tensors are the same view of one
    storage: same storage pointer, offset, shape, stride and dtype. Empty tensors are ignored."""
    by_view: Dict[tuple, List[str]] = {}
    for key, tensor in state.items():
        if not isinstance(tensor, torch.Tensor) or tensor.numel() == 0:
            continue
        view = (
            tensor.untyped_storage().data_ptr(),
            tensor.device,
            tensor.storage_offset(),
            tuple(tensor.shape),
            tensor.stride(),
            tensor.dtype,
        )
        by_view.setdefault(view, []).append(key)
    return [tuple(keys) for keys in by_view.values() if len(keys) > 1]


def _describe(shape_or_dtype) -> str:
    if isinstance(shape_or_dtype, torch.Size):
        return str(tuple(shape_or_dtype))
    return str(shape_or_dtype).replace("torch.", "")


def _matches_frozen(key: str, exact: set, patterns: list) -> bool:
    return key in exact or any(pattern.search(key) for pattern in patterns)


def split_frozen_spec(frozen_keys: FrozenSpec) -> Tuple[set, list]:
    """``frozen_keys`` -> (exact names, compiled patterns); rejects other item types."""
    exact, patterns = set(), []
    for item in frozen_keys or ():
        if isinstance(item, re.Pattern):
            patterns.append(item)
        elif isinstance(item, str):
            exact.add(item)
        else:
            raise TypeError(f"frozen_keys items must be str or re.Pattern, got {item!r}")
    return exact, patterns


def _union_groups(keys: Sequence[str], groups: Iterable[Tuple[str, ...]]) -> List[Tuple[str, ...]]:
    """Merge overlapping groups (union-find); each result is ordered as ``keys``."""
    parent = {key: key for key in keys}

    def root(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for group in groups:
        for other in group[1:]:
            parent[root(other)] = root(group[0])
    members: Dict[str, List[str]] = {}
    for key in keys:
        members.setdefault(root(key), []).append(key)
    return [tuple(group) for group in members.values()]


@dataclass
class MergePlan:
    """What a merge does with each key; build it with :func:`plan_merge`.

    ``merge_groups`` and ``copy_groups`` partition the keys; each group is a tuple of tied
    names (usually one name) ordered as in the first state dict.
    """

    model_names: List[str]
    keys: List[str]
    merge_groups: List[Tuple[str, ...]]
    copy_groups: List[Tuple[str, ...]]
    frozen_keys: List[str]
    differing_copied: Dict[str, List[str]] = field(default_factory=dict)
    unmatched_frozen: List[str] = field(default_factory=list)

    @property
    def tied_groups(self) -> List[Tuple[str, ...]]:
        return [group for group in self.merge_groups + self.copy_groups if len(group) > 1]

    @property
    def merged_keys(self) -> List[str]:
        return [key for group in self.merge_groups for key in group]

    @property
    def copied_keys(self) -> List[str]:
        return [key for group in self.copy_groups for key in group]

    def notes(self) -> dict:
        """A JSON-able summary for the merge metadata (plain str/int/list/dict only)."""
        return {
            "num_keys": len(self.keys),
            "num_merged_keys": len(self.merged_keys),
            "copied_from_first": self.copied_keys,
            "frozen_keys": list(self.frozen_keys),
            "tied_groups": [list(group) for group in self.tied_groups],
            "copied_but_different": {
                key: list(names) for key, names in self.differing_copied.items()
            },
            "unmatched_frozen_patterns": list(self.unmatched_frozen),
        }


def _structure_differences(
    states: Sequence[StateDict], names: Sequence[str]
) -> Tuple[List[str], List[str]]:
    """(differences in keys/types/shapes/dtypes, the keys every model holds as tensors)."""
    differences: List[str] = []
    all_keys: Dict[str, None] = {}
    for state in states:
        all_keys.update(dict.fromkeys(state))
    for name, state in zip(names, states):
        missing = [key for key in all_keys if key not in state]
        if missing:
            differences.append(f"{name} lacks {len(missing)} key(s): {', '.join(missing)}")
        not_tensors = [key for key, value in state.items() if not isinstance(value, torch.Tensor)]
        if not_tensors:
            differences.append(f"{name} holds non-tensor values under: {', '.join(not_tensors)}")
    common = [
        key for key in all_keys if all(isinstance(state.get(key), torch.Tensor) for state in states)
    ]
    for attribute in ("shape", "dtype"):
        for key in common:
            values = [getattr(state[key], attribute) for state in states]
            if any(value != values[0] for value in values[1:]):
                listed = ", ".join(
                    f"{name} {_describe(value)}" for name, value in zip(names, values)
                )
                differences.append(f"{key}: {attribute} differs: {listed}")
    return differences, common


def _tie_differences(
    states: Sequence[StateDict], names: Sequence[str], groups: Sequence[Tuple[str, ...]]
) -> List[str]:
    differences = []
    for group in groups:
        if len(group) < 2:
            continue
        for name, state in zip(names, states):
            unequal = [key for key in group[1:] if not torch.equal(state[key], state[group[0]])]
            if unequal:
                differences.append(
                    f"tied tensors {', '.join(group)} share storage in some input but "
                    f"{name} holds different values under {', '.join(unequal)} than {group[0]}"
                )
    return differences


def plan_merge(
    states: Sequence[StateDict],
    names: Optional[Sequence[str]] = None,
    frozen_keys: FrozenSpec = None,
) -> MergePlan:
    """Check ``states`` strictly and decide each key's fate; raises :class:`MergeError`.

    ``names`` label the models in messages and metadata (default ``model 0``, ``model 1``...).
    """
    if not states:
        raise ValueError("plan_merge needs at least one state dict")
    names = list(names) if names is not None else [f"model {i}" for i in range(len(states))]
    if len(names) != len(states):
        raise ValueError(f"{len(names)} names given for {len(states)} state dicts")
    exact, patterns = split_frozen_spec(frozen_keys)
    differences, common = _structure_differences(states, names)
    unknown_exact = sorted(exact.difference(*states))
    if unknown_exact:
        differences.append(f"frozen_keys names keys no input holds: {', '.join(unknown_exact)}")
    if differences:
        raise MergeError(differences)

    keys = list(states[0])
    groups = _union_groups(keys, [g for state in states for g in shared_storage_groups(state)])
    frozen = {key for key in keys if _matches_frozen(key, exact, patterns)}
    for group in groups:
        partly = [key for key in group if key in frozen]
        if partly and len(partly) != len(group):
            differences.append(
                f"frozen_keys selects {', '.join(partly)} but not the tensors tied "
                f"to them ({', '.join(k for k in group if k not in frozen)}): "
                f"freeze all of a tied group or none"
            )
    differences += _tie_differences(states, names, groups)
    if differences:
        raise MergeError(differences)

    merge_groups, copy_groups = [], []
    for group in groups:
        copied = group[0] in frozen or not is_mergeable(states[0][group[0]])
        (copy_groups if copied else merge_groups).append(group)
    differing: Dict[str, List[str]] = {}
    for group in copy_groups:
        for key in group:
            others = [
                name
                for name, state in zip(names[1:], states[1:])
                if not torch.equal(state[key], states[0][key])
            ]
            if others:
                differing[key] = others
                logger.debug(
                    "%s differs in %s; keeping the value of %s", key, ", ".join(others), names[0]
                )
    unmatched = [p.pattern for p in patterns if not any(p.search(key) for key in keys)]
    for pattern in unmatched:
        logger.debug("frozen key pattern %r matches no key", pattern)
    return MergePlan(
        model_names=names,
        keys=keys,
        merge_groups=merge_groups,
        copy_groups=copy_groups,
        frozen_keys=[k for k in keys if k in frozen],
        differing_copied=differing,
        unmatched_frozen=unmatched,
    )


def copy_group_values(state: StateDict, plan: MergePlan) -> Dict[str, torch.Tensor]:
    """Clones of ``state``'s copied keys; each tied group gets one clone under all names."""
    result = {}
    for group in plan.copy_groups:
        value = state[group[0]].detach().clone()
        for key in group:
            result[key] = value
    return result


def in_key_order(values: Mapping[str, torch.Tensor], plan: MergePlan) -> Dict[str, torch.Tensor]:
    """``values`` reordered as the first input's keys (checks none is missing)."""
    missing = [key for key in plan.keys if key not in values]
    if missing:
        raise RuntimeError(f"internal error: the merge produced no value for {missing}")
    return {key: values[key] for key in plan.keys}


def clone_state(state: StateDict) -> Dict[str, torch.Tensor]:
    """Detached clones of every tensor; keys that share one tensor still share its clone."""
    not_tensors = [key for key, value in state.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise MergeError([f"non-tensor values under: {', '.join(not_tensors)}"])
    tied = {key: group for group in shared_storage_groups(state) for key in group}
    result: Dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        group = tied.get(key, (key,))
        result[key] = result[group[0]] if group[0] in result else tensor.detach().clone()
    return result
