"""A checkpoint file's format, checked before it is unpickled, so that a wrong file gets a
sentence naming it instead of a deep error from ``torch.load``.

PyTorch writes checkpoints as zip archives (``PK\\x03\\x04`` ... central directory at the end);
files from before torch 1.6 are a bare pickle (first byte ``\\x80``). An empty file, a text
file or a zip archive cut short (an interrupted copy or save) is refused with
:class:`CheckpointFormatError` (a ``ValueError``).
"""

from __future__ import annotations

import os
import zipfile

_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTOCOL_OPCODE = b"\x80"


class CheckpointFormatError(ValueError):
    """A file given as a checkpoint is not a readable PyTorch checkpoint."""

    def __init__(self, path: str, problem: str):
        self.path = path
        super().__init__(f"{path} is not a readable PyTorch checkpoint: {problem}")


def check_checkpoint_file(path: str | os.PathLike) -> None:
    """Raise FileNotFoundError / IsADirectoryError / :class:`CheckpointFormatError` for a
    ``path`` that cannot hold a checkpoint; return silently otherwise."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(2, "no such checkpoint file", path)
    if os.path.isdir(path):
        raise IsADirectoryError(21, "a folder, not a checkpoint file", path)
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        raise CheckpointFormatError(path, "the file is empty")
    if head == _ZIP_MAGIC:
        if not zipfile.is_zipfile(path):
            raise CheckpointFormatError(
                path, "the zip archive is truncated or damaged (an interrupted copy or save?)"
            )
        return
    if head[:1] != _PICKLE_PROTOCOL_OPCODE:
        raise CheckpointFormatError(
            path, f"it starts with {head!r}, neither a zip archive nor a pickle (a text file?)"
        )


def path_of(f) -> str | None:
    """The file path behind ``f`` (a path or an open file), or None for an in-memory buffer."""
    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f)
    name = getattr(f, "name", None)
    return name if isinstance(name, str) and os.path.isfile(name) else None
