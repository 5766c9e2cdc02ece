"""POPE yes/no probing metrics (Li et al., 2023), pure functions.

Each probe asks "is there a X ...?" with ground truth "yes" (X present) or "no". "yes" is the
positive class. A model answer is read by :func:`yes_no`: its first word after the VQA
normalisation, "yes" or "no"; anything else is ``"other"``, which counts as a negative
prediction (so it is wrong on present objects and right on absent ones, as in POPE's reader)
and is reported as ``n_other``.

* accuracy = (TP + TN) / N;  precision = TP / (TP + FP);  recall = TP / (TP + FN);
* F1 = 2PR / (P + R);  yes_ratio = (answers read as "yes") / N.

A zero denominator gives 0.0.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Dict, Iterable, Mapping, Sequence, Tuple

from unival.metrics.vqa import normalize_vqa_answer


def yes_no(answer: str) -> str:
    """ "yes", "no" or "other" from a model's answer ("Yes, there is." -> "yes")."""
    first = normalize_vqa_answer(answer).split()[:1]
    return first[0] if first and first[0] in ("yes", "no") else "other"


def confusion_counts(predictions: Sequence[str], labels: Sequence[str]) -> Dict[str, int]:
    """``tp``, ``fp``, ``tn``, ``fn``, ``n_other`` of answers against "yes"/"no" labels."""
    if len(predictions) != len(labels):
        raise ValueError(f"{len(predictions)} predictions vs {len(labels)} labels")
    counts = {"tp": 0, "fp": 0, "tn": 0, "fn": 0, "n_other": 0}
    for prediction, label in zip(predictions, labels):
        if label not in ("yes", "no"):
            raise ValueError(f"a POPE label is 'yes' or 'no', got {label!r}")
        said = yes_no(prediction)
        counts["n_other"] += said == "other"
        positive = said == "yes"
        if label == "yes":
            counts["tp" if positive else "fn"] += 1
        else:
            counts["fp" if positive else "tn"] += 1
    return counts


def pope_from_counts(tp: int, fp: int, tn: int, fn: int, n_other: int = 0) -> Dict[str, float]:
    """accuracy, precision, recall, f1, yes_ratio and n from confusion counts."""
    n = tp + fp + tn + fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": (tp + tn) / n if n else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "yes_ratio": (tp + fp) / n if n else 0.0,
        "n": n,
        "n_other": n_other,
    }


def pope_scores(predictions: Sequence[str], labels: Sequence[str]) -> Dict[str, float]:
    """:func:`pope_from_counts` of :func:`confusion_counts`."""
    return pope_from_counts(**confusion_counts(predictions, labels))


def pope_scores_by_group(rows: Iterable[Tuple[str, str, str]]) -> Dict[str, Dict[str, float]]:
    """``{group: scores}`` plus ``"all"`` from ``(group, prediction, label)`` rows."""
    grouped: Mapping[str, list] = defaultdict(list)
    for group, prediction, label in rows:
        grouped[group].append((prediction, label))
        grouped["all"].append((prediction, label))
    return {
        g: pope_scores([p for p, _ in v], [lab for _, lab in v]) for g, v in sorted(grouped.items())
    }
