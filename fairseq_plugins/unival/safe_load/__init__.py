"""Reading files a user is handed without running code from them.

:func:`load_checkpoint_file` / :func:`safe_torch_load` load ``.pt`` checkpoints through an
allow-list of plain types; anything else is refused with :class:`UntrustedCheckpointError`.
"""
from unival.safe_load.checkpoint import (
    CHECKPOINT_SAFE_GLOBALS,
    TRUST_ENV_VAR,
    UntrustedCheckpointError,
    load_checkpoint_file,
    safe_torch_load,
    select_weights,
    trust_from_environment,
)

__all__ = [
    "CHECKPOINT_SAFE_GLOBALS",
    "TRUST_ENV_VAR",
    "UntrustedCheckpointError",
    "load_checkpoint_file",
    "safe_torch_load",
    "select_weights",
    "trust_from_environment",
]
