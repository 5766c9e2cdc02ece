"""API inputs -> the TSV fields the task datasets decode, held in memory.

The predictor feeds its inputs through the tasks' own datasets (``process_row``) so that
preprocessing is the one the evaluation uses. :class:`InMemoryRows` stands in for
:class:`unival.data.tsv.TSVFile`; :func:`image_field` turns a path, ``bytes`` or a
``PIL.Image`` into a field :func:`unival.data.io.image.decode_image` reads back losslessly
(paths are read in place, bytes are base64-encoded, PIL images are PNG-encoded).
:func:`media_file_field` turns a video/audio path or ``bytes`` into a file path: the media
loaders decode files, so bytes are written to a :class:`MediaScratch` folder that the
predictor removes once the batch has been processed.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import tempfile
from typing import List, Optional, Sequence, Union

from PIL import Image

from unival.data.io.image import encode_image_base64, looks_like_path
from unival.data.tsv import TSVRow

logger = logging.getLogger(__name__)

ImageInput = Union[str, os.PathLike, bytes, bytearray, Image.Image]
SINGLE_MEDIA_TYPES = (str, os.PathLike, bytes, bytearray, Image.Image)


def is_single_media(item) -> bool:
    """True for one image/path (the API then returns one result instead of a list)."""
    return isinstance(item, SINGLE_MEDIA_TYPES)


def as_list(items, name: str) -> List:
    """A list of inputs; a lone path/bytes/image becomes a one-item list."""
    if is_single_media(items):
        return [items]
    if not isinstance(items, Sequence):
        items = list(items)
    if not items:
        raise ValueError(f"no {name} given")
    return list(items)


def describe_input(item) -> str:
    """A short name of an input for JSON output and messages."""
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    if isinstance(item, Image.Image):
        return f"<PIL image {item.width}x{item.height}>"
    if isinstance(item, (bytes, bytearray)):
        return f"<{len(item)} bytes>"
    return f"<{type(item).__name__}>"


def image_field(item: ImageInput) -> str:
    """One image input -> a TSV image field (absolute path, or URL-safe base64)."""
    if isinstance(item, Image.Image):
        return encode_image_base64(item.convert("RGB"), "PNG")
    if isinstance(item, (bytes, bytearray)):
        if not item:
            raise ValueError("empty image bytes")
        return base64.urlsafe_b64encode(bytes(item)).decode("ascii")
    if isinstance(item, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(item))
        if not os.path.isfile(path):
            raise FileNotFoundError(f"image file not found: {path}")
        if looks_like_path(path) and "\t" not in path and "\n" not in path:
            return path
        with open(path, "rb") as handle:
            return image_field(handle.read())
    raise TypeError(f"an image must be a path, bytes or a PIL image, not {type(item).__name__}")


class MediaScratch:
    """A temporary folder for media given as bytes, created on first use; :meth:`cleanup`
    removes it."""

    def __init__(self, prefix: str = "unival_media_"):
        self.prefix = prefix
        self.folder: Optional[str] = None
        self.count = 0

    def write(self, data: bytes, kind: str) -> str:
        """Write ``data`` to a new file (``<n>.<kind>``; FFmpeg probes the content) and return
        its path."""
        if self.folder is None:
            self.folder = tempfile.mkdtemp(prefix=self.prefix)
        path = os.path.join(self.folder, f"{self.count}.{kind}")
        self.count += 1
        with open(path, "wb") as handle:
            handle.write(data)
        return path

    def cleanup(self) -> None:
        """Remove the folder and every file written to it."""
        if self.folder is not None:
            shutil.rmtree(self.folder)
            logger.debug("removed %d temporary media files in %s", self.count, self.folder)
            self.folder = None

    def __enter__(self) -> "MediaScratch":
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()


def media_file_field(item, kind: str, scratch: Optional[MediaScratch] = None) -> str:
    """A video or audio input (path or bytes) -> an absolute file path the media loaders read.

    Bytes go to a file in ``scratch`` (required for bytes), which lives until it is cleaned up.
    """
    if isinstance(item, (bytes, bytearray)):
        if not item:
            raise ValueError(f"empty {kind} bytes")
        if scratch is None:
            raise ValueError(f"{kind} bytes need a MediaScratch folder to be written to")
        return scratch.write(bytes(item), kind)
    if not isinstance(item, (str, os.PathLike)):
        raise TypeError(f"a {kind} must be a file path or bytes, not {type(item).__name__}")
    path = os.path.abspath(os.fspath(item))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{kind} file not found: {path}")
    if "\t" in path or "\n" in path:
        raise ValueError(f"{kind} path contains a tab or newline: {path!r}")
    return path


def text_field(text: str, name: str) -> str:
    """A question/expression/hypothesis as a field (tabs and newlines become spaces)."""
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, not {type(text).__name__}")
    return " ".join(text.split())


class InMemoryRows:
    """Rows of str fields in memory, read like a ``TSVFile`` slice (``<input>:N`` in errors).

    ``numbers``: each row's 1-based input number for messages (default 1..len(rows)).
    """

    def __init__(
        self,
        rows: Sequence[Sequence[str]],
        source: str = "<input>",
        numbers: Optional[Sequence[int]] = None,
    ):
        self.rows = [list(r) for r in rows]
        self.path = source
        self.total_rows = len(self.rows)
        self.numbers = list(numbers) if numbers is not None else list(range(1, len(self.rows) + 1))
        if len(self.numbers) != len(self.rows):
            raise ValueError(f"{len(self.rows)} rows but {len(self.numbers)} input numbers")

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> TSVRow:
        fields = self.rows[int(index)]
        return TSVRow(fields, self.path, self.numbers[int(index)], range(len(fields)))

    def close(self) -> None:
        """Nothing to release (TSVFile protocol)."""
