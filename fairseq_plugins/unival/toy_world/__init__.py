"""A synthetic toy world of coloured shapes with compositional captions, questions,
referring expressions, entailment hypotheses and pretraining rows (tests and demo).

``scene`` (ground truth + sampling), ``render`` (pixels), ``captions`` (text),
``questions`` / ``referring`` / ``entailment`` / ``pretraining`` (per-task ground truth),
``prompts`` (dictionary coverage), ``baselines`` (blind baselines), ``writers`` (TSV/JSON
files), ``build`` (everything for one seed), ``probe_language`` (the complex-instruction probe's
words); the command line is :mod:`unival.commands.toy_world`.
"""

from unival.toy_world.build import SPLITS, ToyWorldConfig, build_toy_world, generate_scenes
from unival.toy_world.captions import object_labels, scene_captions
from unival.toy_world.entailment import LABELS as ENTAILMENT_LABELS
from unival.toy_world.entailment import scene_hypotheses
from unival.toy_world.questions import VQA_ANSWERS, scene_questions
from unival.toy_world.referring import resolve, scene_expressions
from unival.toy_world.render import render_scene
from unival.toy_world.scene import Scene, ToyObject, sample_scene
from unival.toy_world.writers import load_scenes_json

__all__ = [
    "ENTAILMENT_LABELS",
    "SPLITS",
    "Scene",
    "ToyObject",
    "ToyWorldConfig",
    "VQA_ANSWERS",
    "build_toy_world",
    "generate_scenes",
    "load_scenes_json",
    "object_labels",
    "render_scene",
    "resolve",
    "sample_scene",
    "scene_captions",
    "scene_expressions",
    "scene_hypotheses",
    "scene_questions",
]
