"""Image fields of a TSV row: URL-safe base64 or a path relative to an image directory.

Pixel limit: an image larger than ``UNIVAL_MAX_IMAGE_PIXELS`` pixels (width x height; default
PIL's own limit, 89,478,485) is refused as a bad input before it is decoded, so a
decompression bomb (a small file that decodes to gigabytes) costs one skipped sample, not the
run. Set the variable higher for genuinely huge images, or to 0 to switch the limit off.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import warnings

from PIL import Image, UnidentifiedImageError

MAX_PIXELS_ENV_VAR = "UNIVAL_MAX_IMAGE_PIXELS"
#: PIL's default limit, read before anything here changes it
DEFAULT_MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
#: what a decoder raises on unreadable image data (PIL's bomb error is not an OSError)
IMAGE_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError)

IMAGE_PATH_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def looks_like_path(field: str) -> bool:
    """True for strings that name an image file (the original code's ``".jpg" in field``
    rule, widened to the usual image suffixes); base64 never contains a dot."""
    lowered = field.strip().lower()
    return ".jpg" in lowered or lowered.endswith(IMAGE_PATH_SUFFIXES)


def max_image_pixels() -> int | None:
    """The pixel limit from ``UNIVAL_MAX_IMAGE_PIXELS`` (None: no limit); ValueError if
    malformed."""
    text = os.environ.get(MAX_PIXELS_ENV_VAR, "").strip().replace("_", "")
    if not text:
        return DEFAULT_MAX_IMAGE_PIXELS
    if not text.isdigit():
        raise ValueError(f"{MAX_PIXELS_ENV_VAR}={text!r}: expected a whole number of pixels")
    return int(text) or None


def check_pixel_limit(img: Image.Image, what: str) -> None:
    """ValueError when ``img`` (opened, not decoded) has more pixels than
    :func:`max_image_pixels`."""
    limit = max_image_pixels()
    width, height = img.size
    if limit is not None and width * height > limit:
        raise ValueError(
            f"{what} is {width}x{height} = {width * height} pixels, over the limit of "
            f"{limit} (a decompression bomb?); raise {MAX_PIXELS_ENV_VAR} to read it"
        )


def open_image(source, what: str) -> Image.Image:
    """``Image.open`` under the toolkit's pixel limit (PIL's own check follows the setting)."""
    limit = max_image_pixels()
    Image.MAX_IMAGE_PIXELS = limit  # PIL refuses at twice its limit, inside Image.open
    try:
        with warnings.catch_warnings():  # PIL warns past the limit; the check below refuses
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(source)
    except Image.DecompressionBombError as error:  # over twice the limit: PIL's own check
        raise ValueError(f"{what}: {error} Raise {MAX_PIXELS_ENV_VAR} to read it.") from None
    try:
        check_pixel_limit(img, what)
    except ValueError:
        img.close()
        raise
    return img


def _open_rgb(source, what: str) -> Image.Image:
    try:
        with open_image(source, what) as img:
            img.load()  # decode now so truncated data fails here, not in a transform
            return img.convert("RGB")
    except IMAGE_DECODE_ERRORS as error:
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


def decode_image(
    field: str, image_dir: str | os.PathLike | None = None, read_from_path: bool = False
) -> Image.Image:
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
