"""The tasks of ``make demo``'s multitask and media stages: run script, toy-world files,
reported metric, blind baseline, floor and aim.

Every task is trained with ``run_scripts/<script>/train.sh`` and scored on the toy world's
test split with ``run_scripts/<script>/eval.sh``: the demo runs the same commands a user
runs, at toy size. The floor of a task is twice its blind baseline (the score of always
giving the most frequent training answer / caption / label, or the mean training box), the
aim is the target score set for the toy task; the report states both beside the measured score.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from unival.data.schemas import (
    AUDIO_CAPTION,
    CAPTION,
    VIDEO_CAPTION,
    VIDEO_VQA,
    TSVSchema,
    read_rows,
)
from unival.demo.caption import most_frequent_caption, score_constant_caption
from unival.demo.context import read_captions, read_references

FLOOR_FACTOR = 2.0


@dataclass(frozen=True)
class DemoTask:
    """One task of the demo.

    ``script``: the run_scripts folder; ``prefix``: the toy-world TSVs ``<prefix>_{train,
    valid,test}.tsv``; ``score_key``: the key of ``scores.json`` that is reported, under the
    name ``metric``; ``baseline``: ``(world, test_tsv) -> (name, score)``; ``aim``: the
    target score (None: "beat the floor"); ``media``: ``"image"``, ``"video"`` or
    ``"audio"``; ``env``: extra run-script variables of this task's training.
    """

    name: str
    script: str
    prefix: str
    score_key: str
    metric: str
    baseline: Callable[[Path, Path], tuple]
    aim: Optional[float] = None
    media: str = "image"
    env: Dict[str, str] = field(default_factory=dict)
    eval_env: Dict[str, str] = field(default_factory=dict)

    def train_tsv(self, world: Path) -> Path:
        return world / f"{self.prefix}_train.tsv"

    def valid_tsv(self, world: Path) -> Path:
        return world / f"{self.prefix}_valid.tsv"

    def test_tsv(self, world: Path) -> Path:
        return world / f"{self.prefix}_test.tsv"


# ------------------------------------------------------------------------------ baselines
def caption_baseline(world: Path, test_tsv: Path, train_name: str, schema: TSVSchema) -> tuple:
    """CIDEr-D of the most frequent training caption given for every test item."""
    caption = most_frequent_caption(read_captions(world / train_name, schema))
    references = read_references(test_tsv, schema)
    return f'most frequent caption "{caption}"', score_constant_caption(caption, references)[
        "cider"
    ]


def saved_baseline(task: str, key: str, label: str) -> Callable[[Path, Path], tuple]:
    """A baseline of ``baselines.json`` (test split) written by the toy world."""

    def read(world: Path, test_tsv: Path) -> tuple:
        baselines = json.loads((world / "baselines.json").read_text())["test"][task]
        return label.format(**baselines), float(baselines[key])

    return read


def answer_of(refs: str) -> str:
    """``"1.0|!+two"`` -> ``"two"`` (the toy world gives one answer of confidence 1)."""
    return refs.split("&&")[0].split("|!+", 1)[-1]


def video_qa_baseline(world: Path, test_tsv: Path) -> tuple:
    """Accuracy of always giving the most frequent training answer (video QA)."""
    train = Counter(
        answer_of(row["answers"]) for row in read_rows(world / "video_qa_train.tsv", VIDEO_VQA)
    )
    answer = min(train, key=lambda a: (-train[a], a))
    truths = [answer_of(row["answers"]) for row in read_rows(test_tsv, VIDEO_VQA)]
    return f'majority answer "{answer}"', sum(t == answer for t in truths) / max(1, len(truths))


def floor_of(baseline: float) -> float:
    return FLOOR_FACTOR * baseline


def task_result(
    task: DemoTask, score: float, baseline_name: str, baseline: float, extra: Optional[dict] = None
) -> dict:
    """The report entry of one task."""
    floor = floor_of(baseline)
    result = {
        "metric": task.metric,
        "score": round(float(score), 4),
        "baseline": baseline_name,
        "baseline_score": round(float(baseline), 4),
        "floor": round(floor, 4),
        "floor_met": bool(score >= floor and score > baseline),
        "aim": task.aim,
        "aim_met": None if task.aim is None else bool(score >= task.aim),
    }
    result.update(extra or {})
    return result


def format_task_table(title: str, results: Dict[str, dict]) -> List[str]:
    """Lines: task, metric, score, baseline, floor (2x), aim, met."""
    lines = [
        f"{title}:",
        f"  {'task':<22}{'metric':<12}{'score':>8}{'baseline':>10}{'floor':>8}"
        f"{'aim':>7}  floor met",
    ]
    for name, r in results.items():
        aim = "-" if r["aim"] is None else f"{r['aim']:.2f}"
        lines.append(
            f"  {name:<22}{r['metric']:<12}{r['score']:>8.3f}{r['baseline_score']:>10.3f}"
            f"{r['floor']:>8.3f}{aim:>7}  {'yes' if r['floor_met'] else 'NO'}"
        )
    return lines


def baseline_lines(results: Dict[str, dict]) -> List[str]:
    return [f"  {name} baseline: {r['baseline']}" for name, r in results.items()]


# ------------------------------------------------------------------------------ the tasks
def _caption_baseline_of(
    train_name: str, schema: TSVSchema = CAPTION
) -> Callable[[Path, Path], tuple]:
    return lambda world, test_tsv: caption_baseline(world, test_tsv, train_name, schema)


IMAGE_TASKS: Sequence[DemoTask] = (
    DemoTask(
        "caption",
        "caption",
        "caption",
        "cider",
        "CIDEr-D",
        _caption_baseline_of("caption_train.tsv"),
        env={"DROP_WORST_RATIO": "0.0"},
    ),
    DemoTask(
        "vqa",
        "vqa",
        "vqa",
        "vqa_score",
        "VQA score",
        saved_baseline("vqa", "majority_answer_accuracy", 'majority answer "{majority_answer}"'),
        aim=0.8,
        env={"EMA": "0"},
        eval_env={"EMA_EVAL": "0"},
    ),
    DemoTask(
        "refcoco",
        "refcoco",
        "refcoco",
        "score",
        "Acc@0.5",
        saved_baseline("refcoco", "mean_box_accuracy", "mean training box {mean_box}"),
        aim=0.7,
    ),
    DemoTask(
        "snli_ve",
        "snli_ve",
        "snli_ve",
        "snli_score",
        "accuracy",
        saved_baseline("snli_ve", "majority_class_accuracy", 'majority class "{majority_class}"'),
        aim=0.8,
    ),
)

VIDEO_TASKS: Sequence[DemoTask] = (
    DemoTask(
        "video_caption",
        "video_caption",
        "video_caption",
        "cider",
        "CIDEr-D",
        _caption_baseline_of("video_caption_train.tsv", VIDEO_CAPTION),
        aim=1.0,
        media="video",
        env={"USE_DATAAUG": "0", "DROP_WORST_RATIO": "0.0"},
    ),
    DemoTask(
        "video_qa",
        "video_qa",
        "video_qa",
        "vqa_score",
        "VQA score",
        video_qa_baseline,
        aim=0.8,
        media="video",
        env={"EMA": "0"},
        eval_env={"EMA_EVAL": "0"},
    ),
)

AUDIO_TASK = DemoTask(
    "audio_caption",
    "audio_caption",
    "audio_caption",
    "cider",
    "CIDEr-D",
    _caption_baseline_of("audio_caption_train.tsv", AUDIO_CAPTION),
    aim=1.0,
    media="audio",
    env={"DROP_WORST_RATIO": "0.0", "SPEC_AUGMENT": "0", "BATCH_SIZE": "8"},
)
