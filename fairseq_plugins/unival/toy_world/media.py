"""Toy-world video and audio splits: media files, official-layout TSVs and ground truth JSON.

For each split ``build_toy_media`` writes, under ``out_dir`` (the tasks' ``--image-dir``):

* ``videos/<split>/<id>.mp4`` (h264), ``video_caption_<split>.tsv`` (uniq_id, video_id,
  caption(s), empty, path), ``video_qa_<split>.tsv`` (question_id, video_id, question,
  ``1.0|!+answer``, empty, path) and ``videos_<split>.json``;
* ``audios/<split>/<id>.wav|flac``, ``audio_caption_<split>.tsv`` (uniq_id, audio_id,
  caption(s), empty, path) and ``audios_<split>.json``.

Train caption files hold one caption per row (uniq_id ``<id>_<k>``); valid/test hold one row
per clip with the references "&&"-joined. Everything follows from (seed, split); the labels
and decoded frames are reproducible (the encoded bytes need not be).
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from dataclasses import dataclass
from typing import Sequence

from unival.data.io.audio import write_audio
from unival.data.io.video import write_video
from unival.toy_world.audio import (
    AudioClip,
    audio_captions,
    audio_vocabulary_texts,
    sample_audio_clip,
    synthesize_clip,
)
from unival.toy_world.video import (
    VideoClip,
    clip_captions,
    clip_questions,
    render_clip,
    sample_clip,
    video_vocabulary_texts,
)
from unival.toy_world.writers import LABEL_SEPARATOR, write_tsv

logger = logging.getLogger(__name__)

MEDIA_SPLITS = ("train", "valid", "test")
VQA_ANSWER_PREFIX = "1.0|!+"
VIDEO_ENCODER_OPTIONS = {"crf": "18", "preset": "veryfast"}


@dataclass(frozen=True)
class ToyMediaConfig:
    seed: int = 0
    num_train: int = 200
    num_valid: int = 20
    num_test: int = 40
    video_size: int = 64
    num_frames: int = 16
    fps: int = 8
    video_codec: str = "libx264"

    def split_sizes(self) -> dict[str, int]:
        return {"train": self.num_train, "valid": self.num_valid, "test": self.num_test}


# ---------------------------------------------------------------------------------------
# rows in the official layouts
# ---------------------------------------------------------------------------------------
def caption_rows(
    split: str, media_ids: Sequence[str], captions: Sequence[list[str]], paths: Sequence[str]
) -> list[list[str]]:
    """Video/audio caption layout: uniq_id, media id, caption(s), empty, relative path."""
    rows = []
    for media_id, refs, path in zip(media_ids, captions, paths):
        if split == "train":
            rows += [[f"{media_id}_{k}", media_id, ref, "", path] for k, ref in enumerate(refs)]
        else:
            rows.append([media_id, media_id, LABEL_SEPARATOR.join(refs), "", path])
    return rows


def video_qa_rows(
    media_ids: Sequence[str], questions: Sequence[list[tuple[str, str]]], paths: Sequence[str]
) -> list[list[str]]:
    """Video QA layout: question_id, video_id, question, "1.0|!+answer", empty, path."""
    return [
        [f"{media_id}_{q}", media_id, question, VQA_ANSWER_PREFIX + answer, "", path]
        for media_id, pairs, path in zip(media_ids, questions, paths)
        for q, (question, answer) in enumerate(pairs)
    ]


def _write_json(path: str, payload: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=1)
        f.write("\n")


# ---------------------------------------------------------------------------------------
# splits
# ---------------------------------------------------------------------------------------
def generate_video_clips(
    split: str, count: int, seed: int, size: int, num_frames: int, first_id: int = 0
) -> list[VideoClip]:
    """``count`` clips of ``split``; the same (seed, split) always gives the same clips."""
    rng = random.Random(f"unival-toy-world/{seed}/video/{split}")
    return [sample_clip(rng, first_id + i, size, num_frames) for i in range(count)]


def generate_audio_clips(split: str, count: int, seed: int, first_id: int = 0) -> list[AudioClip]:
    """``count`` audio clips of ``split``; the same (seed, split) gives the same clips."""
    rng = random.Random(f"unival-toy-world/{seed}/audio/{split}")
    return [sample_audio_clip(rng, first_id + i) for i in range(count)]


def build_video_split(
    out_dir: str | os.PathLike, split: str, clips: Sequence[VideoClip], config: ToyMediaConfig
) -> dict:
    """Encode ``clips`` and write the split's caption and QA TSVs and JSON; returns counts."""
    out_dir = os.fspath(out_dir)
    rel_dir = f"videos/{split}"
    os.makedirs(os.path.join(out_dir, rel_dir), exist_ok=True)
    ids, paths, captions, questions = [], [], [], []
    for clip in clips:
        path = f"{rel_dir}/{clip.clip_id}.mp4"
        write_video(
            os.path.join(out_dir, path),
            render_clip(clip),
            fps=config.fps,
            codec=config.video_codec,
            options=VIDEO_ENCODER_OPTIONS if config.video_codec == "libx264" else None,
        )
        ids.append(str(clip.clip_id))
        paths.append(path)
        captions.append(clip_captions(clip))
        questions.append(clip_questions(clip))
    caption_count = write_tsv(
        os.path.join(out_dir, f"video_caption_{split}.tsv"),
        caption_rows(split, ids, captions, paths),
    )
    qa_count = write_tsv(
        os.path.join(out_dir, f"video_qa_{split}.tsv"), video_qa_rows(ids, questions, paths)
    )
    _write_json(
        os.path.join(out_dir, f"videos_{split}.json"),
        {
            "split": split,
            "seed": config.seed,
            "fps": config.fps,
            "box_format": "x0,y0,x1,y1 pixels, end-exclusive (mover box in frame 0)",
            "clips": [
                dict(
                    c.to_dict(),
                    video_id=i,
                    path=p,
                    captions=caps,
                    questions=[list(pair) for pair in qs],
                )
                for c, i, p, caps, qs in zip(clips, ids, paths, captions, questions)
            ],
        },
    )
    return {"videos": len(clips), "video_caption_rows": caption_count, "video_qa_rows": qa_count}


def build_audio_split(
    out_dir: str | os.PathLike, split: str, clips: Sequence[AudioClip], config: ToyMediaConfig
) -> dict:
    """Write the clips' audio files, the caption TSV and JSON; returns counts."""
    out_dir = os.fspath(out_dir)
    rel_dir = f"audios/{split}"
    os.makedirs(os.path.join(out_dir, rel_dir), exist_ok=True)
    ids, paths, captions = [], [], []
    for clip in clips:
        path = f"{rel_dir}/{clip.clip_id}{clip.file_format}"
        write_audio(os.path.join(out_dir, path), synthesize_clip(clip), clip.sample_rate)
        ids.append(str(clip.clip_id))
        paths.append(path)
        captions.append(audio_captions(clip))
    caption_count = write_tsv(
        os.path.join(out_dir, f"audio_caption_{split}.tsv"),
        caption_rows(split, ids, captions, paths),
    )
    _write_json(
        os.path.join(out_dir, f"audios_{split}.json"),
        {
            "split": split,
            "seed": config.seed,
            "clips": [
                dict(c.to_dict(), audio_id=i, path=p, captions=caps)
                for c, i, p, caps in zip(clips, ids, paths, captions)
            ],
        },
    )
    return {"audios": len(clips), "audio_caption_rows": caption_count}


def build_toy_media(out_dir: str | os.PathLike, config: ToyMediaConfig = ToyMediaConfig()) -> dict:
    """Every video and audio split under ``out_dir``; ids are consecutive over the splits.

    Returns a summary with per-split counts, ``train_texts`` (the train captions, questions
    and answers, for the dictionary) and ``seconds``.
    """
    start = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    summary: dict = {"train_texts": []}
    next_video = next_audio = 0
    for split, count in config.split_sizes().items():
        videos = generate_video_clips(
            split, count, config.seed, config.video_size, config.num_frames, next_video
        )
        audios = generate_audio_clips(split, count, config.seed, next_audio)
        next_video += count
        next_audio += count
        for key, value in build_video_split(out_dir, split, videos, config).items():
            summary[f"{split}_{key}"] = value
        for key, value in build_audio_split(out_dir, split, audios, config).items():
            summary[f"{split}_{key}"] = value
        if split == "train":
            summary["train_texts"] = (
                [c for v in videos for c in clip_captions(v)]
                + [t for v in videos for pair in clip_questions(v) for t in pair]
                + [c for a in audios for c in audio_captions(a)]
            )
    summary["seconds"] = round(time.perf_counter() - start, 2)
    logger.info(
        "toy media in %s: %s", out_dir, {k: v for k, v in summary.items() if k != "train_texts"}
    )
    return summary


def media_vocabulary_texts() -> list[str]:
    """Texts holding every word of the video/audio captions, questions and answers."""
    return video_vocabulary_texts() + audio_vocabulary_texts()
