"""Loading checkpoint files without running code from them.

torch >= 2.6 loads with ``weights_only=True`` by default, which refuses the
``argparse.Namespace`` that fairseq checkpoints (BART, OFA, UnIVAL) hold. This module loads
them with an explicit allow-list of plain types (:data:`CHECKPOINT_SAFE_GLOBALS`); anything
else (e.g. a pickle whose ``__reduce__`` runs code) is refused with
:class:`UntrustedCheckpointError` naming the file and the global, unless the caller passes
``trusted=True`` or the environment sets ``UNIVAL_TRUST_CHECKPOINTS=1`` (an explicit opt-in
for files you made). :mod:`unival.compat` routes fairseq's own ``torch.load`` calls here.
"""

from __future__ import annotations

import argparse
import builtins
import collections
import os
import pickle
import re
import typing
from typing import Any, BinaryIO, Dict, Mapping, Tuple, Union

import numpy as np
import torch

from unival.safe_load.file_checks import CheckpointFormatError, check_checkpoint_file, path_of

TRUST_ENV_VAR = "UNIVAL_TRUST_CHECKPOINTS"

PathOrFile = Union[str, os.PathLike, BinaryIO]


class UntrustedCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds a pickled global outside the allow-list (never executed)."""

    def __init__(self, path: str, global_name: str | None, detail: str = ""):
        self.path = path
        self.global_name = global_name
        if global_name:
            reason = (
                f"it references the global '{global_name}', which is not on "
                f"unival's checkpoint allow-list"
            )
        else:
            reason = "torch's weights-only unpickler rejected it"
        message = (
            f"refusing to load checkpoint {path}: {reason}. If you made this file yourself "
            f"or otherwise trust it, load it with "
            f"unival.safe_load.load_checkpoint_file(path, trusted=True) or set "
            f"{TRUST_ENV_VAR}=1 for fairseq's command-line tools."
        )
        if detail:
            message += f" (torch: {detail})"
        super().__init__(message)


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
    for scalar in (
        np.float16,
        np.float32,
        np.float64,
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.uint8,
        np.bool_,
    ):
        entries.append(type(np.dtype(scalar)))  # numpy.dtypes.Float64DType, ...
    return entries


def _omegaconf_globals() -> list:
    """The container, metadata and node types a pickled ``DictConfig`` refers to."""
    from omegaconf import DictConfig, ListConfig, base, nodes

    return [
        DictConfig,
        ListConfig,
        base.ContainerMetadata,
        base.Metadata,
        base.Node,
        nodes.AnyNode,
        nodes.StringNode,
        nodes.IntegerNode,
        nodes.FloatNode,
        nodes.BooleanNode,
        nodes.BytesNode,
        nodes.EnumNode,
        nodes.ValueNode,
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
        builtins.dict,
        builtins.list,
        builtins.tuple,
        builtins.set,
        builtins.frozenset,
        builtins.int,
        builtins.float,
        builtins.bool,
        builtins.str,
        builtins.bytes,
        builtins.slice,
        builtins.range,
        builtins.complex,
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


def safe_torch_load(
    f: PathOrFile,
    map_location: Any = None,
    *,
    trusted: bool | None = None,
    weights_only: bool | None = None,
    **kwargs: Any,
) -> Any:
    """``torch.load`` with the checkpoint allow-list; full unpickling only when trusted.

    ``weights_only`` is accepted for signature compatibility with ``torch.load`` but an
    explicit ``weights_only=False`` from a caller does not bypass the check: only
    ``trusted=True`` (or the environment opt-in) does.
    """
    if trusted is None:
        trusted = trust_from_environment()
    path = path_of(f)
    if path is not None:
        check_checkpoint_file(path)
    if trusted:
        return torch.load(f, map_location=map_location, weights_only=False, **kwargs)
    with torch.serialization.safe_globals(CHECKPOINT_SAFE_GLOBALS):
        try:
            return torch.load(f, map_location=map_location, weights_only=True, **kwargs)
        except (RuntimeError, EOFError) as error:
            if path is None:
                raise
            # the format check passed but the data inside is cut short or damaged
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise CheckpointFormatError(path, first) from None
        except pickle.UnpicklingError as error:
            if isinstance(error, UntrustedCheckpointError):
                raise
            text = str(error)
            raise UntrustedCheckpointError(
                _describe_source(f), _offending_global(text), _unpickler_detail(text)
            ) from None


def load_checkpoint_file(path: PathOrFile, trusted: bool = False, map_location: Any = "cpu") -> Any:
    """Load a (fairseq) checkpoint file, refusing pickled code unless ``trusted``.

    Raises :class:`UntrustedCheckpointError` (a ``pickle.UnpicklingError``) naming the file
    and the first global outside :data:`CHECKPOINT_SAFE_GLOBALS`.
    """
    return safe_torch_load(path, map_location=map_location, trusted=trusted)


def select_weights(
    checkpoint: Mapping[str, Any],
    ema: bool,
    path: str = "<checkpoint>",
    ema_option: str = "--ema / ema=True",
) -> Tuple[Dict[str, torch.Tensor], str]:
    """``(state dict, "model" | "ema")`` from a loaded fairseq checkpoint dict.

    ``ema_option`` names the caller's switch for EMA weights in the error when there are none.
    """
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f"{path} is not a fairseq checkpoint (top level is {type(checkpoint)})")
    if ema:
        extra = checkpoint.get("extra_state") or {}
        if not isinstance(extra, Mapping) or extra.get("ema") is None:
            raise ValueError(
                f"{path} has no EMA weights (extra_state['ema']): drop {ema_option} "
                f"to use its 'model' weights"
            )
        return dict(extra["ema"]), "ema"
    if checkpoint.get("model") is None:
        raise ValueError(f"{path} has no 'model' entry; top-level keys: {sorted(checkpoint)}")
    return dict(checkpoint["model"]), "model"
