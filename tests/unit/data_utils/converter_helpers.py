"""Helpers of the converter tests (imported by name: this folder is on ``sys.path``)."""

import base64
import io

from PIL import Image


def b64_bytes(field):
    """A TSV image field -> the file bytes (URL-safe base64)."""
    return base64.urlsafe_b64decode(field + "=" * (-len(field) % 4))


def open_b64(field):
    return Image.open(io.BytesIO(b64_bytes(field)))


def read_rows(path):
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
