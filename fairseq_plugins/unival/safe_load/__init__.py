"""Reading files a user is handed without running code from them.

:func:`load_checkpoint_file` / :func:`safe_torch_load` load ``.pt`` checkpoints through an
allow-list of plain types; anything else is refused with :class:`UntrustedCheckpointError`.
:func:`load_plain_pickle` reads every other pickle (answer lists, CIDEr caches, refer
annotations) rebuilding plain data only; anything else is refused with :class:`UnsafePickleError`.
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
from unival.safe_load.file_checks import CheckpointFormatError, check_checkpoint_file
from unival.safe_load.pickle_files import (
    PLAIN_PICKLE_GLOBALS,
    PickleFormatError,
    UnsafePickleError,
    load_plain_pickle,
)

__all__ = [
    "CHECKPOINT_SAFE_GLOBALS",
    "CheckpointFormatError",
    "check_checkpoint_file",
    "PLAIN_PICKLE_GLOBALS",
    "PickleFormatError",
    "UnsafePickleError",
    "load_plain_pickle",
    "TRUST_ENV_VAR",
    "UntrustedCheckpointError",
    "load_checkpoint_file",
    "safe_torch_load",
    "select_weights",
    "trust_from_environment",
]
