"""Switches between the optimised and the plain (reference-shaped) computation paths.

Every speed-up is guarded by :func:`fast_paths_enabled`; the plain path is the
straightforward code the parity fixture was checked against. ``UNIVAL_PLAIN_PATH=1`` in
the environment selects the plain path everywhere (benchmarks' ``--plain``); tests use
:func:`plain_path` to compare both in one process.

One speed-up is process-wide rather than per call and trades memory for time, so it is
asked for: :func:`keep_freed_memory`, which ``import unival`` applies with
``UNIVAL_KEEP_FREED_MEMORY=1`` in the environment (not on the plain path).
"""

import contextlib
import ctypes
import ctypes.util
import functools
import logging
import os
import platform
from typing import Iterator

logger = logging.getLogger(__name__)

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


# --------------------------------------------------------------------------------------
# Freed tensor memory kept in the heap
# --------------------------------------------------------------------------------------
# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# blocks up to this size come from the heap; free top-of-heap space up to it is kept
KEEP_BYTES = 1 << 30

_KEPT = False


def keep_freed_memory(keep_bytes: int = KEEP_BYTES) -> bool:
    """Raise glibc's mmap and trim thresholds to ``keep_bytes`` (below 2 GiB: a C int);
    False where there is no glibc (macOS, musl) or it refused.

    glibc's ``malloc`` serves every request above its mmap threshold with fresh pages from
    ``mmap`` and unmaps them on ``free``. The threshold starts at 128 KiB and follows the
    freed blocks up, but stops at 32 MiB, so the largest activations and gradients of a big
    step are faulted in anew every step, one zero-filled 4 KiB page at a time: about 400,000
    minor faults per ``unival_base`` train step at batch 4 and 480 px (its blocks reach
    59 MB). With the thresholds raised, those blocks come from the heap and go back to it,
    and the next step reuses them already mapped. The cost: the heap fragments, so the peak resident
    memory rises (0.1-0.3 GB on that 5 GB step, BENCHMARKS.md §6c), and after a large step
    the process stays near its peak, since up to ``keep_bytes`` of free heap top is kept.
    """
    global _KEPT
    libc = _glibc()
    if libc is None:
        logger.debug("not glibc; the allocator keeps its defaults")
        return False
    mallopt = libc.mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(M_MMAP_THRESHOLD, keep_bytes)) and bool(mallopt(M_TRIM_THRESHOLD, keep_bytes))
    _KEPT = _KEPT or ok
    logger.debug("glibc mmap/trim thresholds %s to %d bytes", "set" if ok else "kept", keep_bytes)
    return ok


def return_freed_memory() -> bool:
    """Give the free pages inside glibc's heap back to the system (``malloc_trim(0)``);
    False where there is no glibc. Freeing a tensor that sits below live ones leaves a hole
    whose pages stay resident, and a replacement of another size cannot reuse it: after
    repacking weights (``UnivalModel.pack_decoder_for_cpu_inference_``) the resident memory
    rose by up to 0.14 GB in one of two runs without this."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


@functools.lru_cache(maxsize=None)
def _glibc():
    """The C library where it is glibc, else None (looked up once: find_library runs a
    subprocess)."""
    if platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def pack_output_projection_enabled() -> bool:
    """True when ``UNIVAL_PACK_OUTPUT_PROJECTION=1`` asks CPU inference to pack the
    vocabulary projection too (the default of ``UnivalModel.pack_decoder_for_cpu_inference_``)."""
    return os.environ.get("UNIVAL_PACK_OUTPUT_PROJECTION", "0").lower() in ("1", "true", "yes")


def keep_freed_memory_enabled() -> bool:
    """True when ``UNIVAL_KEEP_FREED_MEMORY=1`` asks for it, except on the plain path."""
    asked = os.environ.get("UNIVAL_KEEP_FREED_MEMORY", "0").lower() in ("1", "true", "yes")
    return asked and fast_paths_enabled()


def freed_memory_kept() -> bool:
    """Whether this process raised the thresholds (benchmarks record it)."""
    return _KEPT
