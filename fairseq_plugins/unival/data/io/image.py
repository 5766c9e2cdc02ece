"""Image fields of a TSV row: URL-safe base64 or a path relative to an image directory."""
from __future__ import annotations

import base64
import binascii
import io
import os

from PIL import Image, UnidentifiedImageError

IMAGE_PATH_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def looks_like_path(field: str) -> bool:
    """True for strings that name an image file (the original code's ``".jpg" in field``
    rule, widened to the usual image suffixes); base64 never contains a dot."""
    lowered = field.strip().lower()
    return ".jpg" in lowered or lowered.endswith(IMAGE_PATH_SUFFIXES)


def _open_rgb(source, what: str) -> Image.Image:
    try:
        with Image.open(source) as img:
            img.load()  # decode now so truncated data fails here, not in a transform
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"{what} is not a readable image ({error})") from None


def decode_base64_bytes(field: str) -> bytes:
    """URL-safe (or standard) base64 -> bytes; missing ``=`` padding is tolerated."""
    text = field.strip()
    if not text:
        raise ValueError("empty image field")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"undecodable base64 ({error})") from None


def decode_image(field: str, image_dir: str | os.PathLike | None = None,
                 read_from_path: bool = False) -> Image.Image:
    """A TSV image field -> RGB ``PIL.Image``; ValueError with the reason otherwise.

    The field is a path (relative to ``image_dir``) when ``read_from_path`` is set or it
    :func:`looks_like_path`; else URL-safe base64 of an encoded image.
    """
    if read_from_path or looks_like_path(field):
        path = os.path.join(os.fspath(image_dir), field.strip()) if image_dir else field.strip()
        if not os.path.isfile(path):
            raise ValueError(f"image file not found: {path}")
        return _open_rgb(path, f"file {path}")
    return _open_rgb(io.BytesIO(decode_base64_bytes(field)), "decoded base64")


def encode_image_base64(img: Image.Image, image_format: str = "PNG") -> str:
    """``PIL.Image`` -> URL-safe base64 of the encoded file (for TSV writers)."""
    buffer = io.BytesIO()
    img.save(buffer, format=image_format)
    return base64.urlsafe_b64encode(buffer.getvalue()).decode("ascii")
