"""A synthetic toy world of coloured shapes with compositional captions (tests and demo).

``scene`` (ground truth + sampling), ``render`` (pixels), ``captions`` (text), ``writers``
(TSV/JSON files), ``build`` (everything for one seed), ``cli`` (``main(argv)``).
"""
from unival.toy_world.build import SPLITS, ToyWorldConfig, build_toy_world, generate_scenes
from unival.toy_world.captions import object_labels, scene_captions
from unival.toy_world.cli import main
from unival.toy_world.render import render_scene
from unival.toy_world.scene import Scene, ToyObject, sample_scene
from unival.toy_world.writers import load_scenes_json

__all__ = [
    "SPLITS", "Scene", "ToyObject", "ToyWorldConfig", "build_toy_world", "generate_scenes",
    "load_scenes_json", "main", "object_labels", "render_scene", "sample_scene", "scene_captions",
]
