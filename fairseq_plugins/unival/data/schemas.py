"""Named TSV column layouts of the official data files, one per task.

``columns`` names every column of the file; ``train_selected_cols`` / ``eval_selected_cols``
are the ``--selected-cols`` of the released scripts; ``media`` maps a column to how it is
stored (``"image"`` = URL-safe base64 or a path, ``"video"``/``"audio"`` = a path).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Union


@dataclass(frozen=True)
class TSVSchema:
    task: str
    columns: tuple[str, ...]
    train_selected_cols: tuple[int, ...]
    eval_selected_cols: tuple[int, ...]
    media: dict = field(default_factory=dict)
    optional_trailing: int = 0  # extra columns a file may carry (ignored)

    @property
    def num_columns(self) -> int:
        return len(self.columns)

    def accepts_column_count(self, count: int) -> bool:
        return self.num_columns <= count <= self.num_columns + self.optional_trailing

    def column_index(self, name: str) -> int:
        return self.columns.index(name)

    def selected_names(self, split: str) -> tuple[str, ...]:
        """Names of the fields a dataset receives, in ``--selected-cols`` order."""
        cols = self.train_selected_cols if split == "train" else self.eval_selected_cols
        return tuple(self.columns[c] for c in cols)


CAPTION = TSVSchema(
    task="caption",
    columns=("uniq_id", "image_id", "caption", "object_labels", "image"),
    train_selected_cols=(0, 4, 2),
    eval_selected_cols=(1, 4, 2),
    media={"image": "image"},
)

VIDEO_CAPTION = TSVSchema(
    task="video_caption",
    columns=("uniq_id", "video_id", "caption", "empty", "video"),
    train_selected_cols=(0, 4, 2),
    eval_selected_cols=(0, 4, 2),
    media={"video": "video"},
)

AUDIO_CAPTION = TSVSchema(
    task="audio_caption",
    columns=("uniq_id", "audio_id", "caption", "empty", "audio"),
    train_selected_cols=(0, 4, 2),
    eval_selected_cols=(0, 4, 2),
    media={"audio": "audio"},
)

VQA = TSVSchema(
    task="vqa_gen",
    columns=("question_id", "image_id", "question", "answers", "object_labels", "image"),
    train_selected_cols=(0, 5, 2, 3, 4),
    eval_selected_cols=(0, 5, 2, 3, 4),
    media={"image": "image"},
    optional_trailing=1,  # a caption column, unused
)

VIDEO_VQA = TSVSchema(
    task="video_vqa_gen",
    columns=("question_id", "video_id", "question", "answers", "empty", "video"),
    train_selected_cols=(0, 5, 2, 3, 4),
    eval_selected_cols=(0, 5, 2, 3, 4),
    media={"video": "video"},
)

REFCOCO = TSVSchema(
    task="refcoco",
    columns=("uniq_id", "image_id", "text", "region", "image"),
    train_selected_cols=(0, 4, 2, 3),
    eval_selected_cols=(0, 4, 2, 3),
    media={"image": "image"},
)

SNLI_VE = TSVSchema(
    task="snli_ve",
    columns=("uniq_id", "image_id", "image", "hypothesis", "premise", "label"),
    train_selected_cols=(0, 2, 3, 4, 5),
    eval_selected_cols=(0, 2, 3, 4, 5),
    media={"image": "image"},
)

IMAGE_GEN = TSVSchema(
    task="image_gen",
    columns=("uniq_id", "image_codes", "caption"),
    train_selected_cols=(0, 2, 1),
    eval_selected_cols=(0, 2, 1),
)

SCHEMAS: dict[str, TSVSchema] = {
    s.task: s
    for s in (CAPTION, VIDEO_CAPTION, AUDIO_CAPTION, VQA, VIDEO_VQA, REFCOCO, SNLI_VE, IMAGE_GEN)
}


def get_schema(task: str) -> TSVSchema:
    try:
        return SCHEMAS[task]
    except KeyError:
        raise ValueError(f"no TSV schema for task {task!r}; known: {sorted(SCHEMAS)}") from None


def read_rows(path: Union[str, os.PathLike], schema: TSVSchema) -> List[Dict[str, str]]:
    """Every non-blank row of an official-layout TSV as ``{column name: value}``.

    For small side files (baselines, references, probes); training reads through
    :class:`unival.data.tsv.TSVFile`. A row with the wrong number of columns (a stray tab) is
    a ``ValueError`` naming the file and the row.
    """
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            if not schema.accepts_column_count(len(fields)):
                raise ValueError(
                    f"{os.fspath(path)} row {number}: {len(fields)} columns, expected "
                    f"{schema.num_columns} ({', '.join(schema.columns)}) for {schema.task}"
                )
            rows.append(dict(zip(schema.columns, fields)))
    return rows
