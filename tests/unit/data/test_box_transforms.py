"""Box-moving transforms: a white box drawn into a black image must land where the box goes.

The expected box is read back from the transformed pixels (the bounding box of bright pixels),
an independent route from the box arithmetic under test.
"""

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from unival.data.io import box_transforms as bt


def drawn(width, height, box):
    img = Image.new("RGB", (width, height), (0, 0, 0))
    x0, y0, x1, y1 = box
    ImageDraw.Draw(img).rectangle([x0, y0, x1 - 1, y1 - 1], fill=(255, 255, 255))  # pixels [x0, x1)
    return img, torch.tensor([box], dtype=torch.float32)


def bright_box(img, level=200):
    """(x0, y0, x1, y1) with x1/y1 exclusive, of pixels brighter than ``level`` in every channel."""
    a = np.asarray(img)
    ys, xs = np.nonzero((a > level).all(axis=-1))
    assert len(xs), "the drawn box left the image"
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def assert_box_close(actual, expected, tol):
    assert np.allclose(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), atol=tol
    ), (actual, expected)


def test_square_resize_scales_per_axis():
    img, box = drawn(200, 100, (40, 20, 120, 60))
    out, moved, w_ratio, h_ratio = bt.square_resize(img, box, 64)
    assert out.size == (64, 64) and (w_ratio, h_ratio) == (64 / 200, 64 / 100)
    assert_box_close(moved[0], [40 * 0.32, 20 * 0.64, 120 * 0.32, 60 * 0.64], 1e-5)
    assert_box_close(bright_box(out, 128), moved[0], 1.0)


def test_shorter_side_size_and_cap():
    assert bt.shorter_side_size(200, 100, 50) == (100, 50)
    assert bt.shorter_side_size(100, 300, 50, max_size=120) == (
        50,
        120,
    )  # 150 capped, aspect not kept
    assert bt.shorter_side_size(50, 80, 50, max_size=60) == (
        50,
        60,
    )  # already the size: only the cap


def test_random_resize_moves_box():
    img, box = drawn(120, 80, (30, 20, 90, 60))
    out, moved = bt.random_resize(img, box, [40], 200, np.random.default_rng(0))
    assert out.size == (60, 40)
    assert_box_close(moved[0], [15, 10, 45, 30], 1e-5)
    assert_box_close(bright_box(out, 128), moved[0], 1.0)


def test_center_crop_shifts_and_clips():
    img, box = drawn(100, 60, (10, 10, 50, 50))
    out, moved = bt.center_crop(img, box, 40)  # window x [30, 70), y [10, 50)
    assert out.size == (40, 40)
    assert moved[0].tolist() == [0.0, 0.0, 20.0, 40.0]
    assert bright_box(out) == [0, 0, 20, 40]


def test_object_center_crop_centres_on_box_and_stays_inside():
    img, box = drawn(200, 100, (150, 40, 190, 80))  # centre (170, 60)
    out, moved = bt.object_center_crop(img, box, 64)
    # left = min(170 - 32, 200 - 64) = 136; top = min(60 - 32, 100 - 64) = 28
    assert moved[0].tolist() == [14.0, 12.0, 54.0, 52.0]
    assert bright_box(out) == [14, 12, 54, 52]


def test_object_center_crop_pads_small_images_with_zeros():
    img, box = drawn(30, 20, (5, 5, 15, 15))
    out, moved = bt.object_center_crop(img, box, 48)
    assert out.size == (48, 48)
    assert moved[0].tolist() == [5.0, 5.0, 15.0, 15.0]
    a = np.asarray(out)
    assert (a[20:, :] == 0).all() and (a[:, 30:] == 0).all()


def test_horizontal_flip():
    img, box = drawn(50, 30, (5, 4, 20, 10))
    out, moved = bt.horizontal_flip(img, box)
    assert moved[0].tolist() == [30.0, 4.0, 45.0, 10.0]
    assert bright_box(out) == [30, 4, 45, 10]


@pytest.mark.parametrize("name", ["ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate"])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_geometric_augment_ops_move_the_box(name, sign):
    img, box = drawn(96, 96, (30, 36, 62, 56))
    out, moved = bt.apply_augment_op(img, box, name, 7, sign)
    assert out.size == (96, 96)
    if name.startswith("Translate"):
        axis = 0 if name.endswith("X") else 1
        expected = box[0].clone()
        expected[axis::2] += sign * 7.0
        assert_box_close(moved[0], expected, 1e-5)
    assert not torch.equal(moved, box)
    assert_box_close(bright_box(out), moved[0], 1.5)


@pytest.mark.parametrize(
    "name", ["Identity", "AutoContrast", "Equalize", "Brightness", "Sharpness"]
)
def test_photometric_ops_keep_the_box(name):
    img, box = drawn(40, 40, (10, 10, 30, 30))
    _, moved = bt.apply_augment_op(img, box, name, 7)
    assert torch.equal(moved, box)


GEOMETRIC = ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate")


def test_random_augment_is_reproducible_and_tracks_the_box():
    img, box = drawn(96, 96, (30, 30, 60, 60))
    for seed in range(6):
        out1, moved1 = bt.random_augment(img, box, np.random.default_rng(seed))
        out2, moved2 = bt.random_augment(img, box, np.random.default_rng(seed))
        assert torch.equal(moved1, moved2) and np.array_equal(np.asarray(out1), np.asarray(out2))
        # geometric ops only (photometric ones may brighten the grey fill), two ops always applied;
        # composing two maps loosens the enclosing box, so the drawn box must lie inside it
        out, moved = bt.random_augment(
            img, box, np.random.default_rng(seed), ops=GEOMETRIC, prob=1.0
        )
        x0, y0, x1, y1 = bright_box(out)
        mx0, my0, mx1, my1 = moved[0].tolist()
        assert mx0 - 1.5 <= x0 and my0 - 1.5 <= y0 and x1 <= mx1 + 1.5 and y1 <= my1 + 1.5, (
            moved,
            (x0, y0, x1, y1),
        )


def test_unknown_op_is_an_error():
    img, box = drawn(10, 10, (1, 1, 5, 5))
    with pytest.raises(ValueError, match="unknown augmentation op"):
        bt.apply_augment_op(img, box, "Solarize", 5)


def test_augment_ops_are_parsed_and_checked():
    assert bt.parse_augment_ops("Rotate, ShearX") == ("Rotate", "ShearX")
    assert bt.parse_augment_ops("none") == () and bt.parse_augment_ops("") == ()
    assert bt.parse_augment_ops(",".join(bt.AUGMENT_OPS)) == bt.AUGMENT_OPS
    with pytest.raises(
        ValueError, match=r"--augment-ops: unknown op\(s\) Solarize \(known: Identity"
    ):
        bt.parse_augment_ops("Rotate,Solarize")


def test_equalize_changes_a_toy_colour_that_brightness_keeps():
    # why the toy demo drops Equalize: the toy world's blue on its light-grey background
    img = Image.new("RGB", (32, 32), (235, 235, 235))
    img.paste((40, 80, 220), (4, 4, 20, 20))
    img.paste((220, 40, 40), (22, 22, 30, 30))
    blue = lambda im: im.getpixel((10, 10))  # noqa: E731
    equalized, _ = bt.apply_augment_op(img, None, "Equalize", 7)
    brighter, _ = bt.apply_augment_op(img, None, "Brightness", 7)
    r, g, b = blue(equalized)
    assert b - g < 20  # blue (40, 80, 220) became teal-grey: blue no longer dominates green
    r, g, b = blue(brighter)
    assert b > 2 * g and b > 2 * r  # still blue
