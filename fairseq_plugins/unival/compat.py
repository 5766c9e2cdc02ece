"""The only place that works around fairseq / torch / numpy behaviour.

Importing this module applies every fix once (idempotent):

1. **Checkpoint loading.** torch >= 2.6 defaults ``torch.load(weights_only=True)``; fairseq
   calls ``torch.load`` bare, so fairseq checkpoints holding an ``argparse.Namespace`` (BART,
   OFA, UnIVAL, and any legacy-args model trained here) fail to load. fairseq's
   ``checkpoint_utils`` and ``distributed.utils`` (the rank-0 -> all-ranks state broadcast)
   get a ``torch`` namespace whose ``load`` is :func:`safe_torch_load`: a weights-only load
   with an explicit allow-list (:data:`CHECKPOINT_SAFE_GLOBALS`). Anything else (e.g. a
   pickle whose ``__reduce__`` runs code) is refused with :class:`UntrustedCheckpointError`
   naming the file and the global, unless the caller passes ``trusted=True`` or the
   environment sets ``UNIVAL_TRUST_CHECKPOINTS=1`` (an explicit opt-in for files you made).
2. **numpy 2 aliases.** ``np.int``/``np.float``/... were removed but are still used on some
   fairseq paths (``data_utils.compute_mask_indices(no_overlap=True)``, the dynamic CRF);
   they are restored as the builtins they used to alias, only where absent.
3. **Dataset indices.** fairseq hands datasets numpy integers: :func:`as_index`.
"""
from __future__ import annotations

import argparse
import builtins
import collections
import logging
import os
import pickle
import re
import types
import typing
from typing import Any, BinaryIO, Union

import numpy as np
import torch

logger = logging.getLogger(__name__)

TRUST_ENV_VAR = "UNIVAL_TRUST_CHECKPOINTS"

PathOrFile = Union[str, os.PathLike, BinaryIO]


class UntrustedCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds a pickled global outside the allow-list (never executed)."""

    def __init__(self, path: str, global_name: str | None, detail: str = ""):
        self.path = path
        self.global_name = global_name
        if global_name:
            reason = (f"it references the global '{global_name}', which is not on "
                      f"unival's checkpoint allow-list")
        else:
            reason = "torch's weights-only unpickler rejected it"
        message = (
            f"refusing to load checkpoint {path}: {reason}. If you made this file yourself "
            f"or otherwise trust it, load it with "
            f"unival.compat.load_checkpoint_file(path, trusted=True) or set "
            f"{TRUST_ENV_VAR}=1 for fairseq's command-line tools."
        )
        if detail:
            message += f" (torch: {detail})"
        super().__init__(message)


# --------------------------------------------------------------------------------------
# 1. checkpoint loading
# --------------------------------------------------------------------------------------
def _numpy_globals() -> list:
    """numpy scalars, dtypes and arrays as fairseq checkpoints hold them (metrics, best)."""
    try:
        from numpy._core import multiarray
    except ModuleNotFoundError:  # numpy < 2
        from numpy.core import multiarray

    entries: list = [
        np.ndarray,
        np.dtype,
        (multiarray.scalar, "numpy._core.multiarray.scalar"),
        (multiarray.scalar, "numpy.core.multiarray.scalar"),  # files written by numpy < 2
        (multiarray._reconstruct, "numpy._core.multiarray._reconstruct"),
        (multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
    ]
    for scalar in (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
                   np.int64, np.uint8, np.bool_):
        entries.append(type(np.dtype(scalar)))  # numpy.dtypes.Float64DType, ...
    return entries


def _omegaconf_globals() -> list:
    """The container, metadata and node types a pickled ``DictConfig`` refers to."""
    from omegaconf import DictConfig, ListConfig, base, nodes

    return [
        DictConfig, ListConfig, base.ContainerMetadata, base.Metadata, base.Node,
        nodes.AnyNode, nodes.StringNode, nodes.IntegerNode, nodes.FloatNode,
        nodes.BooleanNode, nodes.BytesNode, nodes.EnumNode, nodes.ValueNode,
    ]


def _fairseq_globals() -> list:
    """Types fairseq itself puts in what it pickles (the distributed state broadcast)."""
    from fairseq.distributed import utils as distributed_utils

    return [distributed_utils._TensorPlaceholder]


def _build_safe_globals() -> list:
    plain = [
        argparse.Namespace,
        collections.defaultdict,
        collections.OrderedDict,
        typing.Any,
        builtins.dict, builtins.list, builtins.tuple, builtins.set, builtins.frozenset,
        builtins.int, builtins.float, builtins.bool, builtins.str, builtins.bytes,
        builtins.slice, builtins.range, builtins.complex,
    ]
    return plain + _numpy_globals() + _omegaconf_globals() + _fairseq_globals()


CHECKPOINT_SAFE_GLOBALS: list = _build_safe_globals()

_GLOBAL_IN_MESSAGE = re.compile(r"GLOBAL ([\w.]+)")
_UNPICKLER_LINE = re.compile(r"WeightsUnpickler error: ([^\n]*)")


def _describe_source(f: PathOrFile) -> str:
    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f)
    return str(getattr(f, "name", "<in-memory buffer>"))


def _offending_global(message: str) -> str | None:
    match = _GLOBAL_IN_MESSAGE.search(message)
    return match.group(1) if match else None


def _unpickler_detail(message: str) -> str:
    """The one informative line of torch's long weights-only error message."""
    match = _UNPICKLER_LINE.search(message)
    if match:
        return match.group(1).split(". Please use")[0]
    return message.strip().splitlines()[0] if message.strip() else ""


def trust_from_environment() -> bool:
    """True when ``UNIVAL_TRUST_CHECKPOINTS`` is set to 1/true/yes (explicit opt-in)."""
    return os.environ.get(TRUST_ENV_VAR, "").strip().lower() in {"1", "true", "yes"}


def safe_torch_load(f: PathOrFile, map_location: Any = None, *, trusted: bool | None = None,
                    weights_only: bool | None = None, **kwargs: Any) -> Any:
    """``torch.load`` with the checkpoint allow-list; full unpickling only when trusted.

    ``weights_only`` is accepted for signature compatibility with ``torch.load`` but an
    explicit ``weights_only=False`` from a caller does not bypass the check: only
    ``trusted=True`` (or the environment opt-in) does.
    """
    if trusted is None:
        trusted = trust_from_environment()
    if trusted:
        return torch.load(f, map_location=map_location, weights_only=False, **kwargs)
    with torch.serialization.safe_globals(CHECKPOINT_SAFE_GLOBALS):
        try:
            return torch.load(f, map_location=map_location, weights_only=True, **kwargs)
        except pickle.UnpicklingError as error:
            if isinstance(error, UntrustedCheckpointError):
                raise
            text = str(error)
            raise UntrustedCheckpointError(
                _describe_source(f), _offending_global(text), _unpickler_detail(text)
            ) from None


def load_checkpoint_file(path: PathOrFile, trusted: bool = False,
                         map_location: Any = "cpu") -> Any:
    """Load a (fairseq) checkpoint file, refusing pickled code unless ``trusted``.

    Raises :class:`UntrustedCheckpointError` (a ``pickle.UnpicklingError``) naming the file
    and the first global outside :data:`CHECKPOINT_SAFE_GLOBALS`.
    """
    return safe_torch_load(path, map_location=map_location, trusted=trusted)


class _TorchWithSafeLoad(types.ModuleType):
    """Stands in for ``torch`` inside one fairseq module: ``load`` is the allow-listed one."""

    def __init__(self) -> None:
        super().__init__("torch")
        self.load = safe_torch_load

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)


_PATCHED_FAIRSEQ_MODULES = ("fairseq.checkpoint_utils", "fairseq.distributed.utils")


def patch_fairseq_checkpoint_loading() -> None:
    """Route fairseq's bare ``torch.load`` calls through :func:`safe_torch_load` (idempotent).

    Covers ``checkpoint_utils.load_checkpoint_to_cpu`` (``--restore-file``,
    ``load_model_ensemble_and_task``, ``--finetune-from-model``), ``load_ema_from_checkpoint``
    and the distributed broadcast of the loaded state to the other ranks.
    """
    import importlib

    for module_name in _PATCHED_FAIRSEQ_MODULES:
        module = importlib.import_module(module_name)
        if isinstance(getattr(module, "torch", None), _TorchWithSafeLoad):
            continue
        if getattr(module, "torch", None) is not torch:
            raise RuntimeError(
                f"{module_name} no longer imports torch as a module global; "
                f"unival.compat's checkpoint-loading fix needs updating"
            )
        module.torch = _TorchWithSafeLoad()
        logger.debug("routed %s.torch.load through unival.compat.safe_torch_load", module_name)


# --------------------------------------------------------------------------------------
# 2. numpy 2 aliases
# --------------------------------------------------------------------------------------
_NUMPY_REMOVED_ALIASES = {
    "int": builtins.int,
    "float": builtins.float,
    "bool": builtins.bool,
    "complex": builtins.complex,
    "object": builtins.object,
    "str": builtins.str,
}


def restore_numpy_aliases() -> None:
    """Re-add the builtin-type aliases numpy 2 removed, only where absent (idempotent)."""
    for name, value in _NUMPY_REMOVED_ALIASES.items():
        if name not in np.__dict__:
            setattr(np, name, value)


# --------------------------------------------------------------------------------------
# 3. dataset indices
# --------------------------------------------------------------------------------------
def as_index(i: Any) -> int:
    """A dataset index as a Python ``int`` (fairseq passes ``np.int64``; tensors work too)."""
    if isinstance(i, bool):
        raise TypeError(f"a dataset index must be an integer, got bool {i!r}")
    if isinstance(i, torch.Tensor):
        if i.numel() != 1 or i.is_floating_point():
            raise TypeError(f"a dataset index must be one integer, got tensor {i!r}")
        return int(i.item())
    if isinstance(i, (int, np.integer)):
        return int(i)
    raise TypeError(f"a dataset index must be an integer, got {type(i).__name__} {i!r}")


# --------------------------------------------------------------------------------------
# 4. fairseq-train's valid-subset check on TSV data lists
# --------------------------------------------------------------------------------------
def patch_valid_subset_check() -> None:
    """Let ``fairseq-train`` accept ``--data a.tsv,b.tsv,valid.tsv`` (idempotent).

    fairseq's ``raise_if_valid_subsets_unintentionally_ignored`` lists ``cfg.task.data`` as a
    directory, which fails on UnIVAL's comma-separated TSV lists. The check only makes sense
    for a data directory, so it runs unchanged there and is skipped otherwise.
    """
    from fairseq.data import data_utils

    original = data_utils.raise_if_valid_subsets_unintentionally_ignored
    if getattr(original, "_unival_patched", False):
        return

    def check_only_directories(train_cfg) -> None:
        data = getattr(train_cfg.task, "data", None)
        if isinstance(data, str) and not os.path.isdir(data):
            return
        original(train_cfg)

    check_only_directories._unival_patched = True
    data_utils.raise_if_valid_subsets_unintentionally_ignored = check_only_directories


def apply_all() -> None:
    """Apply every fix (called at import; safe to call again)."""
    restore_numpy_aliases()
    patch_fairseq_checkpoint_loading()
    patch_valid_subset_check()


apply_all()
