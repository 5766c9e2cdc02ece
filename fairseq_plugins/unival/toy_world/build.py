"""Generate the whole toy world: seeded scenes per split, images, task files, dictionary.

Files under the output directory (per split = train, valid, test):

* ``caption_{split}.tsv``  (caption)    * ``vqa_{split}.tsv``      (vqa_gen)
* ``refcoco_{split}.tsv``  (refcoco)    * ``snli_ve_{split}.tsv``  (snli_ve)
* ``pretrain_{split}.tsv`` (unify_task, image paths ``images/<id>.png``)
* ``scenes_{split}.json`` (ground truth), ``images/``, ``negative_sample/``,
  ``vqa_answers.txt``, ``vqa_ans2label.pkl``, ``baselines.json`` and ``dict.txt``.

:func:`build_toy_world_with_media` adds the video and audio files of
:mod:`unival.toy_world.media` (``video_caption_*``, ``video_qa_*``, ``audio_caption_*`` TSVs,
``videos/``, ``audios/``) and ``video_qa_answers.txt``, with their texts in ``dict.txt``.

Each task draws from its own random stream per (seed, split), so the scenes and the caption
files do not depend on the other tasks.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from unival.data.io.image import encode_image_base64
from unival.tokenizer import build_dictionary_from_texts, load_gpt2_bpe
from unival.toy_world import baselines
from unival.toy_world.captions import (
    NUMBER_WORDS,
    RELATIONS,
    object_labels,
    scene_captions,
    vocabulary_texts,
)
from unival.toy_world.entailment import NEUTRAL_PROPERTIES, scene_hypotheses
from unival.toy_world.media import ToyMediaConfig, build_toy_media, media_vocabulary_texts
from unival.toy_world.pretraining import (
    IMAGE_DIR,
    image_path,
    number_rows,
    scene_pretrain_rows,
    write_negative_samples,
)
from unival.toy_world.probe_language import template_texts
from unival.toy_world.prompts import coverage_texts
from unival.toy_world.questions import VQA_ANSWERS, scene_questions
from unival.toy_world.referring import scene_expressions
from unival.toy_world.render import render_scene
from unival.toy_world.scene import COLORS, SHAPES, SIZES, Scene, sample_scene
from unival.toy_world.video import DIRECTIONS, SPEEDS
from unival.toy_world.writers import (
    caption_rows,
    refcoco_rows,
    snli_ve_rows,
    vqa_rows,
    write_answer_candidates,
    write_scenes_json,
    write_tsv,
)

logger = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
TASK_FILES = ("caption", "vqa", "refcoco", "snli_ve", "pretrain")


@dataclass(frozen=True)
class ToyWorldConfig:
    seed: int = 0
    num_train: int = 2000
    num_valid: int = 100
    num_test: int = 200
    image_size: int = 64

    def split_sizes(self) -> dict[str, int]:
        return {"train": self.num_train, "valid": self.num_valid, "test": self.num_test}


@dataclass
class SplitTexts:
    """What one split contributed (for ``dict.txt`` and the baselines)."""

    captions: list[str] = field(default_factory=list)
    questions: list[tuple[str, str, str]] = field(default_factory=list)  # kind, question, answer
    expressions: list[str] = field(default_factory=list)
    boxes: list[tuple[int, ...]] = field(default_factory=list)
    hypotheses: list[tuple[str, str, str]] = field(default_factory=list)  # premise, text, label


def generate_scenes(
    split: str, count: int, seed: int, image_size: int, first_scene_id: int = 0
) -> list[Scene]:
    """``count`` scenes of ``split``; the same (seed, split) always gives the same scenes."""
    rng = random.Random(f"unival-toy-world/{seed}/{split}")
    return [sample_scene(rng, first_scene_id + i, image_size) for i in range(count)]


def task_rng(seed: int, split: str, task: str) -> random.Random:
    return random.Random(f"unival-toy-world/{seed}/{split}/{task}")


def build_split(
    out_dir: str, split: str, scenes: list[Scene], config: ToyWorldConfig
) -> tuple[dict, SplitTexts]:
    """Write every file of one split; returns (row counts, texts)."""
    counts: dict[str, int] = {}
    texts = SplitTexts()
    rngs = {
        task: task_rng(config.seed, split, task)
        for task in ("vqa", "refcoco", "snli_ve", "pretrain")
    }
    rows: dict[str, list[list[str]]] = {task: [] for task in TASK_FILES}
    all_captions = []
    count_answers: Counter = Counter()
    for scene in scenes:
        image = render_scene(scene)
        image.save(os.path.join(out_dir, image_path(scene)))
        b64 = encode_image_base64(image)
        captions, labels = scene_captions(scene), object_labels(scene)
        all_captions.append(captions)
        rows["caption"] += caption_rows(split, [scene], [captions], [labels], [b64])
        questions = scene_questions(scene, rngs["vqa"], count_answers)
        rows["vqa"] += vqa_rows(scene, questions, labels, b64)
        expressions = scene_expressions(scene, rngs["refcoco"])
        rows["refcoco"] += refcoco_rows(scene, expressions, b64)
        premise = rngs["snli_ve"].choice(captions)
        hypotheses = scene_hypotheses(scene, rngs["snli_ve"])
        rows["snli_ve"] += snli_ve_rows(scene, hypotheses, premise, b64)
        rows["pretrain"] += scene_pretrain_rows(scene, captions, questions, expressions)
        texts.captions += captions
        texts.questions += [(q.kind, q.question, q.answer) for q in questions]
        texts.expressions += [e.text for e in expressions]
        texts.boxes += [scene.objects[e.target].box for e in expressions]
        texts.hypotheses += [(premise, h.text, h.label) for h in hypotheses]
    if split == "train":  # offline shuffle (the readers never shuffle)
        rngs["pretrain"].shuffle(rows["pretrain"])
    number_rows(rows["pretrain"])
    for task in TASK_FILES:
        counts[f"{task}_{split}_rows"] = write_tsv(
            os.path.join(out_dir, f"{task}_{split}.tsv"), rows[task]
        )
    write_scenes_json(
        os.path.join(out_dir, f"scenes_{split}.json"),
        split,
        config.seed,
        config.image_size,
        scenes,
        all_captions,
    )
    return counts, texts


def slot_words() -> list[str]:
    """Single words/phrases that may fill a prompt slot at training time."""
    numbers = [str(n) for n in range(-1, 5)] + list(NUMBER_WORDS.values())
    return (
        list(SHAPES)
        + [s + "s" for s in SHAPES]
        + list(COLORS)
        + list(SIZES)
        + list(RELATIONS)
        + list(NEUTRAL_PROPERTIES)
        + numbers
    )


def dictionary_texts(per_split: dict[str, SplitTexts]) -> list[str]:
    """Every text the tasks encode from this world's files (and the run-time negatives)."""
    texts = [t for words in vocabulary_texts() for t in words.split()]
    for split in per_split.values():
        texts += split.captions + split.expressions
        texts += [t for _, q, a in split.questions for t in (q, a)]
        texts += [t for p, h, _ in split.hypotheses for t in (p, h)]
    return coverage_texts(texts + list(VQA_ANSWERS), slot_words())


def compute_baselines(per_split: dict[str, SplitTexts]) -> dict:
    train = per_split["train"]
    result = {}
    for split in ("valid", "test"):
        evaluation = per_split[split]
        result[split] = (
            {
                "vqa": baselines.vqa_baselines(
                    [(k, a) for k, _, a in train.questions],
                    [(k, a) for k, _, a in evaluation.questions],
                ),
                "snli_ve": baselines.snli_baselines(
                    [lab for _, _, lab in train.hypotheses],
                    [lab for _, _, lab in evaluation.hypotheses],
                ),
                "refcoco": baselines.refcoco_baselines(train.boxes, evaluation.boxes),
            }
            if train.questions and evaluation.questions
            else {}
        )
    return result


def build_toy_world(
    out_dir: str | os.PathLike,
    config: ToyWorldConfig = ToyWorldConfig(),
    extra_texts: Iterable[str] = (),
) -> dict:
    """Write every file listed in the module docstring under ``out_dir``.

    Scene ids (= image ids) are consecutive over train, valid, test. ``extra_texts`` (e.g.
    the video/audio captions and questions of :mod:`unival.toy_world.media`) are added to
    the dictionary's texts, each also as a target (" " + text), and so are the complex-instruction
    probe's templates (:func:`unival.toy_world.probe_language.template_texts`). Returns a
    summary dict.
    """
    start = time.perf_counter()
    out_dir = os.fspath(out_dir)
    os.makedirs(os.path.join(out_dir, IMAGE_DIR), exist_ok=True)
    summary: dict = {"out_dir": out_dir, "seed": config.seed, "image_size": config.image_size}
    per_split: dict[str, SplitTexts] = {}
    next_id = 0
    for split, count in config.split_sizes().items():
        scenes = generate_scenes(split, count, config.seed, config.image_size, next_id)
        next_id += count
        counts, per_split[split] = build_split(out_dir, split, scenes, config)
        summary.update(counts)
        summary[f"{split}_images"] = count
    write_answer_candidates(out_dir, VQA_ANSWERS)
    write_negative_samples(out_dir, per_split["train"].captions)
    with open(os.path.join(out_dir, "baselines.json"), "w", encoding="utf-8") as f:
        json.dump(compute_baselines(per_split), f, indent=1, sort_keys=True)
        f.write("\n")

    # the complex-instruction probe (unival probe build) asks about any toy scene: cover its words
    texts = dictionary_texts(per_split) + [" " + t for t in [*extra_texts, *template_texts()]]
    dictionary = build_dictionary_from_texts(
        texts, load_gpt2_bpe(), save_path=os.path.join(out_dir, "dict.txt")
    )
    summary["dict_entries"] = len(dictionary)
    summary["seconds"] = round(time.perf_counter() - start, 2)
    logger.info("toy world in %s: %s", out_dir, summary)
    return summary


VIDEO_QA_ANSWERS_FILE = "video_qa_answers.txt"


def video_qa_answers() -> list[str]:
    """Every answer a toy video question can have (colours, shapes, directions, speeds, counts)."""
    return list(COLORS) + list(SHAPES) + list(DIRECTIONS) + list(SPEEDS) + ["one", "two"]


def build_toy_world_with_media(
    out_dir: str | os.PathLike,
    config: ToyWorldConfig = ToyWorldConfig(),
    media_config: ToyMediaConfig | None = None,
) -> dict:
    """The image world plus the video/audio splits (see the module docstring) in ``out_dir``;
    one ``dict.txt`` covers both. Returns the merged summary (media keys prefixed ``media_``)."""
    media_config = media_config or ToyMediaConfig(seed=config.seed)
    media = build_toy_media(out_dir, media_config)
    with open(os.path.join(out_dir, VIDEO_QA_ANSWERS_FILE), "w", encoding="utf-8") as f:
        f.writelines(a + "\n" for a in video_qa_answers())
    texts = media_vocabulary_texts() + media.pop("train_texts") + video_qa_answers()
    summary = build_toy_world(out_dir, config, extra_texts=texts)
    summary.update({f"media_{k}": v for k, v in media.items()})
    return summary
