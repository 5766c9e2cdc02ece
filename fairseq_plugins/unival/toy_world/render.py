"""Scene -> RGB image (Pillow drawing on a plain background)."""

from __future__ import annotations

from PIL import Image, ImageDraw

from unival.toy_world.scene import BACKGROUND, COLORS, Scene, ToyObject


def draw_object(draw: ImageDraw.ImageDraw, obj: ToyObject) -> None:
    """Fill ``obj`` inside its end-exclusive box."""
    x0, y0, x1, y1 = obj.box
    fill = COLORS[obj.color]
    if obj.shape == "circle":
        draw.ellipse((x0, y0, x1 - 1, y1 - 1), fill=fill)
    elif obj.shape == "square":
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=fill)
    elif obj.shape == "triangle":
        draw.polygon([(x0, y1 - 1), ((x0 + x1 - 1) / 2, y0), (x1 - 1, y1 - 1)], fill=fill)
    else:
        raise ValueError(f"unknown shape {obj.shape!r}")


def render_scene(scene: Scene) -> Image.Image:
    """(image_size x image_size) RGB image of the scene."""
    img = Image.new("RGB", (scene.image_size, scene.image_size), BACKGROUND)
    draw = ImageDraw.Draw(img)
    for obj in scene.objects:
        draw_object(draw, obj)
    return img
