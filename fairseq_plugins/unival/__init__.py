"""UnIVAL as fairseq plugins: ``--user-dir fairseq_plugins/unival`` or ``import unival``.

Importing the package applies the fairseq/torch compatibility fixes
(:mod:`unival.compat`), keeps freed tensor memory mapped for reuse when
``UNIVAL_KEEP_FREED_MEMORY=1`` asks for it (:func:`unival.models.perf.keep_freed_memory`)
and registers every model architecture, task and criterion with fairseq's registries.
"""

import logging

from unival import (  # noqa: F401  (fairseq registrations)
    compat,  # noqa: F401  (applies the compatibility fixes first)
    criterions,
    models,
    optim,
    tasks,
)
from unival.hub import load  # noqa: F401
from unival.models import perf
from unival.models.builder import build_model  # noqa: F401

if perf.keep_freed_memory_enabled():
    perf.keep_freed_memory()

__all__ = ["build_model", "load"]
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
