"""Weight interpolation and model merging over plain state dicts (the UnIVAL paper's merging
recipes).

Pure functions (no I/O) over ``dict[str, Tensor]``, checked strictly by
:func:`~unival.merging.state.plan_merge` (same keys, shapes and dtypes everywhere, or one
:class:`MergeError` listing every difference):

* :func:`interpolate` ``(a, b, lam) = lam * a + (1 - lam) * b``; :func:`average` (uniform or
  weighted); :func:`linear_combination`.
* :func:`task_vectors`, :func:`task_arithmetic`, :func:`ties_merge`, :func:`dare`.
* :func:`greedy_soup`.

Checkpoint files: :mod:`unival.merging.checkpoint`; command line: :mod:`unival.commands.merge`
(``unival merge``); evaluation along a lambda/scale grid, CSV + PNG:
:mod:`unival.merging.sweep` (``unival merge sweep``).
"""

from unival.merging.greedy_soup import SoupResult, SoupStep, greedy_soup
from unival.merging.linear import average, interpolate, linear_combination
from unival.merging.state import MergeError, MergePlan, plan_merge
from unival.merging.task_vectors import (
    apply_task_vectors,
    dare,
    task_arithmetic,
    task_vector,
    task_vectors,
    ties_combine,
    ties_merge,
    trim_to_density,
)

__all__ = [
    "MergeError",
    "MergePlan",
    "SoupResult",
    "SoupStep",
    "apply_task_vectors",
    "average",
    "dare",
    "greedy_soup",
    "interpolate",
    "linear_combination",
    "plan_merge",
    "task_arithmetic",
    "task_vector",
    "task_vectors",
    "ties_combine",
    "ties_merge",
    "trim_to_density",
]
