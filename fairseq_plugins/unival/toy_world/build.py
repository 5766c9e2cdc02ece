"""Generate the whole toy world: seeded scenes per split, images, files, dictionary."""
from __future__ import annotations

import logging
import os
import random
import time
from dataclasses import dataclass

from unival.data.caption_dataset import CAPTION_PROMPT
from unival.data.io.image import encode_image_base64
from unival.tokenizer import build_dictionary_from_texts, load_gpt2_bpe
from unival.toy_world.captions import object_labels, scene_captions, vocabulary_texts
from unival.toy_world.render import render_scene
from unival.toy_world.scene import Scene, sample_scene
from unival.toy_world.writers import caption_rows, write_scenes_json, write_tsv

logger = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
PROMPTS = (CAPTION_PROMPT,)  # task prompts whose words the dictionary must hold


@dataclass(frozen=True)
class ToyWorldConfig:
    seed: int = 0
    num_train: int = 2000
    num_valid: int = 100
    num_test: int = 200
    image_size: int = 64

    def split_sizes(self) -> dict[str, int]:
        return {"train": self.num_train, "valid": self.num_valid, "test": self.num_test}


def generate_scenes(split: str, count: int, seed: int, image_size: int,
                    first_scene_id: int = 0) -> list[Scene]:
    """``count`` scenes of ``split``; the same (seed, split) always gives the same scenes."""
    rng = random.Random(f"unival-toy-world/{seed}/{split}")
    return [sample_scene(rng, first_scene_id + i, image_size) for i in range(count)]


def build_toy_world(out_dir: str | os.PathLike, config: ToyWorldConfig = ToyWorldConfig()) -> dict:
    """Write ``caption_{split}.tsv``, ``scenes_{split}.json`` and ``dict.txt`` under ``out_dir``.

    ``dict.txt`` is built from the train captions, every caption word
    (:func:`vocabulary_texts`) and the task prompts.

    Scene ids (= image ids) are consecutive over train, valid, test. Returns a summary dict.
    """
    start = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    summary: dict = {"out_dir": os.fspath(out_dir), "seed": config.seed,
                     "image_size": config.image_size}
    train_captions: list[str] = []
    next_id = 0
    for split, count in config.split_sizes().items():
        scenes = generate_scenes(split, count, config.seed, config.image_size, next_id)
        next_id += count
        captions = [scene_captions(s) for s in scenes]
        labels = [object_labels(s) for s in scenes]
        images = [encode_image_base64(render_scene(s)) for s in scenes]
        rows = caption_rows(split, scenes, captions, labels, images)
        summary[f"{split}_rows"] = write_tsv(os.path.join(out_dir, f"caption_{split}.tsv"), rows)
        summary[f"{split}_images"] = count
        write_scenes_json(os.path.join(out_dir, f"scenes_{split}.json"), split, config.seed,
                          config.image_size, scenes, captions)
        if split == "train":
            train_captions = [c for refs in captions for c in refs]
    texts = [" " + c for c in train_captions + vocabulary_texts()] + list(PROMPTS)
    dictionary = build_dictionary_from_texts(
        texts, load_gpt2_bpe(),
        save_path=os.path.join(out_dir, "dict.txt"))
    summary["dict_entries"] = len(dictionary)
    summary["seconds"] = round(time.perf_counter() - start, 2)
    logger.info("toy world in %s: %s", out_dir, summary)
    return summary
