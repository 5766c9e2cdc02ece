"""Image field decoding and the resize/normalise transform."""

import base64
import io

import pytest
import torch
from PIL import Image

from unival.data.io.image import decode_image, encode_image_base64, looks_like_path
from unival.data.io.transforms import image_to_tensor


def _png(color=(255, 0, 0), size=(6, 4), mode="RGB"):
    return Image.new(mode, size, color)


def test_base64_round_trip_url_safe_and_standard():
    img = _png((10, 200, 30))
    field = encode_image_base64(img)
    assert "+" not in field and "/" not in field
    out = decode_image(field)
    assert out.mode == "RGB" and out.size == (6, 4) and out.getpixel((0, 0)) == (10, 200, 30)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    standard = base64.b64encode(buffer.getvalue()).decode()
    assert decode_image(standard).getpixel((5, 3)) == (10, 200, 30)
    assert decode_image(field.rstrip("=")).size == (6, 4)  # padding tolerated


def test_grayscale_becomes_rgb():
    assert decode_image(encode_image_base64(_png(128, mode="L"))).getpixel((1, 1)) == (128,) * 3


@pytest.mark.parametrize(
    "field,reason",
    [
        ("not base64 at all!", "undecodable base64"),
        (base64.urlsafe_b64encode(b"hello world, not an image").decode(), "not a readable image"),
        ("", "empty"),
    ],
)
def test_bad_fields_raise_value_error_with_reason(field, reason):
    with pytest.raises(ValueError, match=reason):
        decode_image(field)


def test_truncated_png_is_rejected():
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buffer, format="PNG")
    data = buffer.getvalue()[:-30]
    with pytest.raises(ValueError, match="not a readable image"):
        decode_image(base64.urlsafe_b64encode(data).decode())


def test_paths_relative_to_image_dir(tmp_path):
    _png((0, 0, 255)).save(tmp_path / "x.jpg")
    _png((0, 255, 0)).save(tmp_path / "y.png")
    assert looks_like_path("x.jpg") and not looks_like_path(encode_image_base64(_png()))
    assert decode_image("x.jpg", image_dir=tmp_path).size == (6, 4)
    assert decode_image("y.png", image_dir=tmp_path).getpixel((0, 0)) == (0, 255, 0)
    (tmp_path / "noext").write_bytes((tmp_path / "y.png").read_bytes())
    assert decode_image("noext", image_dir=tmp_path, read_from_path=True).size == (6, 4)
    with pytest.raises(ValueError, match="not found"):
        decode_image("missing.jpg", image_dir=tmp_path)


def test_image_to_tensor_values_by_hand():
    img = Image.new("RGB", (5, 3), (255, 0, 51))
    t = image_to_tensor(img, 8)
    assert t.shape == (3, 8, 8) and t.dtype == torch.float32
    # a constant image stays constant under bicubic resize: (v/255 - 0.5) / 0.5
    assert torch.allclose(t[0], torch.full((8, 8), 1.0))
    assert torch.allclose(t[1], torch.full((8, 8), -1.0))
    assert torch.allclose(t[2], torch.full((8, 8), 51 / 255 * 2 - 1))


def test_image_to_tensor_layout_channels_first():
    img = Image.new("RGB", (4, 4), (0, 0, 0))
    img.putpixel((3, 0), (255, 255, 255))  # top-right corner (x=3, y=0)
    t = image_to_tensor(img, 4)  # same size: bicubic resize is the identity
    assert t[:, 0, 3].tolist() == [1.0, 1.0, 1.0]
    assert t[:, 3, 0].tolist() == [-1.0, -1.0, -1.0]
