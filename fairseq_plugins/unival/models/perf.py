"""Switches between the optimised and the plain (reference-shaped) computation paths.

Every speed-up is guarded by :func:`fast_paths_enabled`; the plain path is the
straightforward code the parity fixture was checked against. ``UNIVAL_PLAIN_PATH=1`` in
the environment selects the plain path everywhere (benchmarks' ``--plain``); tests use
:func:`plain_path` to compare both in one process.
"""

import contextlib
import os
from typing import Iterator

_FAST = os.environ.get("UNIVAL_PLAIN_PATH", "0") not in ("1", "true", "yes")


def fast_paths_enabled() -> bool:
    """True unless the plain path was selected (env ``UNIVAL_PLAIN_PATH=1`` or
    :func:`plain_path`)."""
    return _FAST


def set_fast_paths(enabled: bool) -> None:
    """Select the optimised (True) or plain (False) path for the whole process."""
    global _FAST
    _FAST = bool(enabled)


@contextlib.contextmanager
def plain_path(plain: bool = True) -> Iterator[None]:
    """Run the block on the plain path (``plain=False``: on the optimised path)."""
    global _FAST
    before = _FAST
    _FAST = not plain
    try:
        yield
    finally:
        _FAST = before
