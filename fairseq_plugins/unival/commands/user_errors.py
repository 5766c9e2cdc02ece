"""The errors that mean "this input is wrong", answered by ``unival`` in one line.

A user error (a missing or unreadable file, a file of the wrong format, a checkpoint that
does not fit, a bad option value) ends a ``unival`` command with ``unival COMMAND: message``
on stderr and exit status 2; the message names the file and what is wrong. Everything else
is a bug and keeps its traceback. ``--debug`` (or ``UNIVAL_DEBUG=1``) shows the traceback of
user errors too.
"""

from __future__ import annotations

import pickle
from typing import Tuple, Type

from unival.data.bad_rows import TooManyBadRowsError
from unival.hub.checkpoint import CheckpointMismatchError
from unival.models.missing_weights import MissingWeightsError

#: exit status of a command refused because of its input
USER_ERROR_STATUS = 2


class UserInputError(ValueError):
    """An input the user gave cannot be used; the message says which and why."""


def user_error_types() -> Tuple[Type[BaseException], ...]:
    """The exception classes treated as user errors."""
    return (
        UserInputError,
        OSError,  # FileNotFoundError, IsADirectoryError, PermissionError, ...
        ValueError,  # the toolkit's readers raise ValueError naming the file and the problem
        EOFError,
        pickle.UnpicklingError,  # UntrustedCheckpointError, UnsafePickleError
        MissingWeightsError,
        TooManyBadRowsError,
        CheckpointMismatchError,
    )


def describe(error: BaseException) -> str:
    """One line: the error's message (its type when the message is empty), without newlines."""
    text = str(error).strip()
    if isinstance(error, OSError) and error.filename and str(error.filename) not in text:
        text = f"{error.filename}: {text}"
    if isinstance(error, KeyError) or not text:
        text = f"{type(error).__name__}: {text}".rstrip(": ")
    return " ".join(text.split())
