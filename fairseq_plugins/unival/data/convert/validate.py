"""Row checks of every task's TSV layout; each problem is a ``BadSampleError`` naming
``file:line column c (name): reason``.

Checks per task (on top of the column count and the media of :mod:`unival.data.schemas`:
images decode; video/audio files exist and, for the video/audio tasks, their streams are
readable: the video's frame index, every audio sample):

* caption: ids and caption non-empty, no empty "&&" reference;
* vqa_gen / video_vqa_gen: question non-empty; answers "conf|!+answer" joined by "&&", each
  conf a number in [0, 1], answers non-empty and distinct; with candidates, the best answer
  must be one of them;
* refcoco: text non-empty; region "x0,y0,x1,y1" of 4 finite numbers, x0 >= 0, y0 >= 0,
  x1 > x0, y1 > y0 (a zero-area box is reported as degenerate) and inside the image (1 px
  tolerance);
* snli_ve: hypothesis non-empty; label entailment/contradiction/neutral (or yes/no/maybe);
* unify_task (pretraining, 8 columns): type known; caption rows need a caption, qa rows a question
  and answers refs, visual_grounding rows a region text and a box refs; media are paths.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Callable, Iterator

from unival.data.convert.media_files import check_media_decodes
from unival.data.errors import BadSampleError
from unival.data.io.image import decode_image
from unival.data.schemas import SCHEMAS, TSVSchema
from unival.data.tsv import TSVFile

logger = logging.getLogger(__name__)

UNIFY_TASK = SCHEMAS.get("unify_task") or TSVSchema(
    task="unify_task",
    columns=(
        "uniq_id",
        "image",
        "caption",
        "question",
        "refs",
        "gt_objects",
        "dataset_name",
        "type",
    ),
    train_selected_cols=(0, 1, 2, 3, 4, 5, 6, 7),
    eval_selected_cols=(0, 1, 2, 3, 4, 5, 6, 7),
    media={"image": "image"},
)
UNIFY_TYPES = ("caption", "qa", "visual_grounding", "video_caption", "video_qa", "audio_caption")
SNLI_LABELS = ("entailment", "contradiction", "neutral", "yes", "no", "maybe")
BOX_TOLERANCE = 1.0

Problem = tuple[str, str]  # (column name, reason)


def task_schemas() -> dict[str, TSVSchema]:
    """Every validatable task -> its layout."""
    return dict(SCHEMAS, unify_task=UNIFY_TASK)


def answers_problem(field: str, candidates: set[str] | None = None) -> str | None:
    """Why an answers field is malformed (``None`` when fine)."""
    if not field.strip():
        return "empty answers"
    seen: dict[str, float] = {}
    for item in field.split("&&"):
        if item.count("|!+") != 1:
            return f"answer {item!r} is not 'conf|!+answer'"
        conf_text, answer = item.split("|!+")
        try:
            conf = float(conf_text)
        except ValueError:
            return f"confidence {conf_text!r} is not a number"
        if not 0.0 <= conf <= 1.0:  # also rejects nan
            return f"confidence {conf_text} outside [0, 1]"
        if not answer.strip():
            return f"empty answer in {item!r}"
        if answer in seen:
            return f"answer {answer!r} repeated"
        seen[answer] = conf
    if candidates is not None:
        best = max(seen, key=seen.get)
        if best not in candidates:
            return f"best answer {best!r} is not a candidate answer"
    return None


def parse_box(field: str) -> tuple[float, float, float, float]:
    """``"x0,y0,x1,y1"`` -> 4 floats; ValueError with the reason when malformed/degenerate."""
    parts = field.split(",")
    if len(parts) != 4:
        raise ValueError(f"box {field!r} does not have 4 comma-separated numbers")
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"box {field!r} holds a non-number") from None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise ValueError(f"box {field!r} is not finite")
    if x0 < 0 or y0 < 0:
        raise ValueError(f"box {field!r} has a negative coordinate")
    if x1 < x0 or y1 < y0:
        raise ValueError(f"box {field!r} is inverted (x1 < x0 or y1 < y0)")
    if x1 == x0 or y1 == y0:
        raise ValueError(f"box {field!r} is degenerate (zero area)")
    return x0, y0, x1, y1


def _box_problem(field: str, image_size: tuple[int, int] | None) -> str | None:
    try:
        _, _, x1, y1 = parse_box(field)
    except ValueError as error:
        return str(error)
    if image_size is not None:
        width, height = image_size
        if x1 > width + BOX_TOLERANCE or y1 > height + BOX_TOLERANCE:
            return f"box {field!r} outside the {width}x{height} image"
    return None


def _nonempty(row: dict, *names: str) -> list[Problem]:
    return [(n, "empty") for n in names if not row[n].strip()]


def _caption_checks(row: dict, context: dict) -> list[Problem]:
    media_id = next(n for n in ("image_id", "video_id", "audio_id") if n in row)
    problems = _nonempty(row, "uniq_id", media_id, "caption")
    if row["caption"].strip() and any(not r.strip() for r in row["caption"].split("&&")):
        problems.append(("caption", "empty reference between '&&'"))
    return problems


def _vqa_checks(row: dict, context: dict) -> list[Problem]:
    problems = _nonempty(row, "question_id", "question")
    reason = answers_problem(row["answers"], context.get("candidates"))
    return problems + ([("answers", reason)] if reason else [])


def _refcoco_checks(row: dict, context: dict) -> list[Problem]:
    problems = _nonempty(row, "uniq_id", "text")
    reason = _box_problem(row["region"], context.get("image_size"))
    return problems + ([("region", reason)] if reason else [])


def _snli_checks(row: dict, context: dict) -> list[Problem]:
    problems = _nonempty(row, "uniq_id", "hypothesis")
    if row["label"].strip() not in SNLI_LABELS:
        problems.append(
            (
                "label",
                f"unknown label {row['label']!r} (expected one of "
                f"entailment, contradiction, neutral)",
            )
        )
    return problems


def _unify_checks(row: dict, context: dict) -> list[Problem]:
    kind = row["type"].strip()
    if kind not in UNIFY_TYPES:
        return [("type", f"unknown type {kind!r} (expected one of {', '.join(UNIFY_TYPES)})")]
    problems = _nonempty(row, "uniq_id", "image")
    if kind in ("caption", "video_caption", "audio_caption"):
        problems += _nonempty(row, "caption")
    elif kind in ("qa", "video_qa"):
        problems += _nonempty(row, "question")
        reason = answers_problem(row["refs"], context.get("candidates"))
        problems += [("refs", reason)] if reason else []
    else:  # visual_grounding
        problems += _nonempty(row, "caption")
        reason = _box_problem(row["refs"], context.get("image_size"))
        problems += [("refs", reason)] if reason else []
    return problems


CHECKS: dict[str, Callable[[dict, dict], list[Problem]]] = {
    "caption": _caption_checks,
    "video_caption": _caption_checks,
    "audio_caption": _caption_checks,
    "vqa_gen": _vqa_checks,
    "video_vqa_gen": _vqa_checks,
    "refcoco": _refcoco_checks,
    "snli_ve": _snli_checks,
    "unify_task": _unify_checks,
}


def _media_problems(
    schema: TSVSchema, row: dict, context: dict, image_dir: str | None, check_media: bool
) -> Iterator[Problem]:
    """Decode image columns (recording the size for box checks); check other media exist."""
    for name, kind in schema.media.items():
        value = row[name]
        media_kind = kind
        if schema.task == "unify_task":
            media_kind = {
                "video_caption": "video",
                "video_qa": "video",
                "audio_caption": "audio",
            }.get(row["type"].strip(), "image")
        if media_kind == "image":
            if not check_media:
                continue
            try:
                context["image_size"] = decode_image(
                    value, image_dir, read_from_path=schema.task == "unify_task"
                ).size
            except ValueError as error:
                yield name, str(error)
        elif check_media:
            path = os.path.join(image_dir, value.strip()) if image_dir else value.strip()
            if not value.strip() or not os.path.isfile(path):
                yield name, f"{media_kind} file not found: {path}"
            elif schema.task != "unify_task":
                try:
                    check_media_decodes(path, media_kind)
                except ValueError as error:
                    yield name, str(error)


def row_errors(
    path: str,
    schema: TSVSchema,
    image_dir: str | None = None,
    candidates: set[str] | None = None,
    check_media: bool = True,
) -> Iterator[BadSampleError]:
    """Every problem of every row of ``path`` under ``schema`` (several per row possible)."""
    tsv = TSVFile(path)
    check = CHECKS.get(schema.task)
    for index in range(len(tsv)):
        line = index + 1
        try:
            fields = tsv[index]
        except BadSampleError as error:  # undecodable bytes
            yield error
            continue
        if not schema.accepts_column_count(len(fields)):
            yield BadSampleError(
                path,
                line,
                reason=(
                    f"expected {schema.num_columns} tab-separated columns, found {len(fields)}"
                ),
            )
            continue
        row = dict(zip(schema.columns, fields))
        context: dict = {"candidates": candidates}
        if schema.task == "unify_task" and row["type"].strip() not in UNIFY_TYPES:
            problems = []  # the type check below reports it; media kind is unknown
        else:
            problems = list(_media_problems(schema, row, context, image_dir, check_media))
        if check is not None:
            problems += check(row, context)
        for name, reason in problems:
            yield BadSampleError(path, line, schema.column_index(name), name, reason)


def validate_files(
    paths: list[str],
    task: str,
    image_dir: str | None = None,
    candidates: set[str] | None = None,
    check_media: bool = True,
    max_reported: int = 50,
) -> int:
    """Log the errors of ``paths`` (at most ``max_reported`` each); return their total."""
    schema = task_schemas().get(task)
    if schema is None:
        raise ValueError(f"no TSV layout for task {task!r}; known: {sorted(task_schemas())}")
    total = 0
    for path in paths:
        errors = 0
        for error in row_errors(path, schema, image_dir, candidates, check_media):
            errors += 1
            if errors <= max_reported:
                logger.error("%s", error)
        if errors > max_reported:
            logger.error("%s: %d more errors not shown", path, errors - max_reported)
        logger.info("%s: %s", path, f"{errors} bad field(s)" if errors else "ok")
        total += errors
    return total
