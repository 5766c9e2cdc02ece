"""Reading plain-data pickles (answer lists, CIDEr caches, refer annotations) without running code.

A pickle names the callables that rebuild its objects ("globals"); a hostile file names
``os.system`` and the plain :func:`pickle.load` calls it. :func:`load_plain_pickle` rebuilds
only plain data: ``dict``/``list``/``tuple``/``set``/``str``/``bytes``/numbers (which need no
global at all), ``collections.defaultdict``/``OrderedDict`` and numpy scalars and arrays (the
released answer lists and CIDEr caches hold these). Any other global is refused with
:class:`UnsafePickleError` naming the file and the global; nothing from the file is called.
Python 2 pickles (the refer toolkit's ``refs(unc).p``) read with ``encoding="latin1"``.
"""

from __future__ import annotations

import os
import pickle
from typing import Any, FrozenSet, Tuple

#: ``(module, name)`` globals a plain-data pickle may name.
PLAIN_PICKLE_GLOBALS: FrozenSet[Tuple[str, str]] = frozenset(
    [
        (module, name)
        for module in ("builtins", "__builtin__")
        for name in (
            "dict",
            "list",
            "tuple",
            "set",
            "frozenset",
            "str",
            "unicode",
            "bytes",
            "bytearray",
            "int",
            "long",
            "float",
            "bool",
            "complex",
        )
    ]
    + [
        ("collections", "defaultdict"),
        ("collections", "OrderedDict"),
        ("_codecs", "encode"),
    ]  # how protocol-2 pickles spell bytes; it only encodes text
    + [
        (module, name)
        for module in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("scalar", "_reconstruct")
    ]
    + [("numpy", "dtype"), ("numpy", "ndarray")]
)


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global outside :data:`PLAIN_PICKLE_GLOBALS` (never called)."""

    def __init__(self, path: str, global_name: str, what: str = "data"):
        self.path = path
        self.global_name = global_name
        super().__init__(
            f"refusing to read {path}: the pickle calls '{global_name}', which is not plain "
            f"{what} (only dicts, lists, strings, numbers and numpy scalars/arrays are rebuilt)"
        )


class PickleFormatError(ValueError):
    """A file is not a readable pickle (truncated, another format)."""


class _PlainUnpickler(pickle.Unpickler):
    def __init__(self, handle, path: str, what: str, **kwargs):
        super().__init__(handle, **kwargs)
        self._path = path
        self._what = what

    def find_class(self, module: str, name: str):
        if (module, name) in PLAIN_PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise UnsafePickleError(self._path, f"{module}.{name}", self._what)

    def persistent_load(self, pid):  # torch-style external references: never plain data
        raise UnsafePickleError(self._path, f"persistent id {pid!r}", self._what)


def load_plain_pickle(path: str | os.PathLike, what: str = "data") -> Any:
    """The object pickled in ``path``, rebuilt from plain types only.

    ``what`` names the expected content in errors (e.g. ``"an answer list"``). Raises
    :class:`UnsafePickleError` for a global outside the allow-list, :class:`PickleFormatError`
    (a ``ValueError``) for a file that is not a pickle, ``FileNotFoundError`` if missing.
    """
    path = os.fspath(path)
    with open(path, "rb") as handle:
        try:
            return _PlainUnpickler(handle, path, what, encoding="latin1").load()
        except UnsafePickleError:
            raise
        except (
            pickle.UnpicklingError,
            EOFError,
            ValueError,
            TypeError,
            IndexError,
            KeyError,
            AttributeError,
            UnicodeDecodeError,
        ) as error:
            raise PickleFormatError(
                f"{path}: not a readable pickle of {what} ({type(error).__name__}: {error})"
            ) from None
