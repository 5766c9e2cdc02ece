"""One-click examples for the page, drawn by the toy world's own generators (no download).

Scenes of coloured shapes with a referring expression, a question and a hypothesis about each,
moving-shape clips with a question, and tones / chirps / beeps: the inputs the ``make demo``
experts were trained on, so they give meaningful answers with those experts.
"""

from __future__ import annotations

import os
import random
import tempfile
from typing import Callable, Dict, List

from unival.data.io.audio import write_audio
from unival.data.io.video import write_video
from unival.toy_world.audio import synthesize_clip
from unival.toy_world.build import generate_scenes
from unival.toy_world.entailment import scene_hypotheses
from unival.toy_world.media import generate_audio_clips, generate_video_clips
from unival.toy_world.questions import scene_questions
from unival.toy_world.referring import scene_expressions
from unival.toy_world.render import render_scene
from unival.toy_world.video import clip_questions, render_clip

NUM_IMAGES, NUM_CLIPS = 3, 2


def default_folder() -> str:
    """Where the examples are kept between runs (their content is fixed by the seed)."""
    return os.path.join(tempfile.gettempdir(), "unival_serve_examples")


def _save(path: str, write: Callable[[str], None]) -> None:
    """Write ``path`` once; a file being written has another name until it is complete, so a
    second server starting at the same time never reads half a file."""
    if os.path.isfile(path):
        return
    stem, suffix = os.path.splitext(path)
    partial = f"{stem}.{os.getpid()}.partial{suffix}"  # the suffix tells the encoders the format
    write(partial)
    os.replace(partial, path)


def write_examples(folder: str, seed: int = 0, image_size: int = 64) -> Dict[str, List[list]]:
    """Write the example files to ``folder`` (those missing); returns
    ``{method: [[file, text?], ...]}``."""
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(f"unival-serve-examples/{seed}")
    examples: Dict[str, List[list]] = {
        m: []
        for m in (
            "caption",
            "vqa",
            "ground",
            "entail",
            "caption_video",
            "video_qa",
            "caption_audio",
        )
    }
    for scene in generate_scenes("test", NUM_IMAGES, seed=seed, image_size=image_size):
        path = os.path.join(folder, f"scene_{scene.scene_id}.png")
        _save(path, render_scene(scene).save)
        examples["caption"].append([path])
        examples["vqa"].append([path, scene_questions(scene, rng)[0].question])
        examples["ground"].append([path, scene_expressions(scene, rng)[0].text])
        examples["entail"].append([path, scene_hypotheses(scene, rng)[0].text])
    for clip in generate_video_clips("test", NUM_CLIPS, seed=seed, size=64, num_frames=8):
        path = os.path.join(folder, f"clip_{clip.clip_id}.mp4")
        _save(path, lambda p, clip=clip: write_video(p, render_clip(clip)))
        examples["caption_video"].append([path])
        examples["video_qa"].append([path, clip_questions(clip)[0][0]])
    for clip in generate_audio_clips("test", NUM_CLIPS, seed=seed):
        path = os.path.join(folder, f"sound_{clip.clip_id}{clip.file_format}")
        _save(path, lambda p, clip=clip: write_audio(p, synthesize_clip(clip), clip.sample_rate))
        examples["caption_audio"].append([path])
    return examples
