"""Blind baselines of the toy world (what a model must beat), computed from the train split.

* VQA ``majority_answer``: always answer the most frequent train answer;
  ``majority_answer_per_kind``: answer the most frequent train answer of the question's kind
  (colour / count / presence / position, read off the question's first words). Score: the
  VQA soft accuracy of the rows (every toy answer has confidence 1.0, so exact match).
* SNLI-VE ``majority_class``: always predict the most frequent train label (labels are
  balanced, so about 1/3).
* RefCOCO ``mean_box``: always predict the mean train box; Acc@0.5 (IoU >= 0.5).

Ties are broken by the sorted order of the answers/labels (deterministic).
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence


def majority(values: Sequence[str]) -> str:
    """Most frequent value; ties go to the smallest in sorted order."""
    counts = Counter(values)
    return min(counts, key=lambda v: (-counts[v], v))


def accuracy(predictions: Sequence[str], truths: Sequence[str]) -> float:
    return sum(p == t for p, t in zip(predictions, truths)) / max(1, len(truths))


def vqa_baselines(train: Sequence[tuple[str, str]], evaluation: Sequence[tuple[str, str]]) -> dict:
    """``train``/``evaluation``: ``(kind, answer)`` pairs."""
    overall = majority([a for _, a in train])
    per_kind = {
        kind: majority([a for k, a in train if k == kind]) for kind in sorted({k for k, _ in train})
    }
    truths = [a for _, a in evaluation]
    return {
        "majority_answer": overall,
        "majority_answer_accuracy": accuracy([overall] * len(truths), truths),
        "majority_answer_per_kind": per_kind,
        "majority_answer_per_kind_accuracy": accuracy(
            [per_kind.get(k, overall) for k, _ in evaluation], truths
        ),
    }


def snli_baselines(train_labels: Sequence[str], eval_labels: Sequence[str]) -> dict:
    label = majority(train_labels)
    return {
        "majority_class": label,
        "majority_class_accuracy": accuracy([label] * len(eval_labels), eval_labels),
    }


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two (x0, y0, x1, y1) boxes; 0 when they do not overlap."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def refcoco_baselines(
    train_boxes: Sequence[Sequence[float]], eval_boxes: Sequence[Sequence[float]]
) -> dict:
    mean = [sum(b[i] for b in train_boxes) / len(train_boxes) for i in range(4)]
    hits = sum(box_iou(mean, b) >= 0.5 for b in eval_boxes)
    return {
        "mean_box": [round(v, 2) for v in mean],
        "mean_box_accuracy": hits / max(1, len(eval_boxes)),
    }
