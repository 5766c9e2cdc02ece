"""Oversized images (decompression bombs) are bad inputs, refused before decoding, with the
limit a setting (``UNIVAL_MAX_IMAGE_PIXELS``)."""

import struct
import zlib

import pytest
from PIL import Image

from unival.data.io.image import decode_image


def png_header_only(path, width, height):
    """A PNG whose header claims ``width`` x ``height``; its pixel data would not decode."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 7))
        + chunk(b"IEND", b"")
    )
    return path


def test_a_20000_pixel_square_png_is_a_bad_input_naming_the_setting(tmp_path):
    path = png_header_only(tmp_path / "bomb.png", 20000, 20000)
    with pytest.raises(ValueError) as caught:
        decode_image(str(path))
    assert "bomb.png" in str(caught.value) and "UNIVAL_MAX_IMAGE_PIXELS" in str(caught.value)


def test_the_limit_is_a_setting(tmp_path, monkeypatch):
    path = tmp_path / "small.png"
    Image.new("RGB", (30, 20), (1, 2, 3)).save(path)
    monkeypatch.setenv("UNIVAL_MAX_IMAGE_PIXELS", "500")
    with pytest.raises(ValueError, match=r"small.png is 30x20 = 600 pixels, over the limit of 500"):
        decode_image(str(path))
    monkeypatch.setenv("UNIVAL_MAX_IMAGE_PIXELS", "600")
    assert decode_image(str(path)).size == (30, 20)
    monkeypatch.setenv("UNIVAL_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(ValueError, match="UNIVAL_MAX_IMAGE_PIXELS='lots'"):
        decode_image(str(path))
