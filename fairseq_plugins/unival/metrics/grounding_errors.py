"""Error analysis of visual-grounding predictions: where the predicted boxes go and why they miss.

Boxes are ``(x0, y0, x1, y1)`` in original-image pixels, as (N, 4) arrays or lists of 4 numbers.
IoU and hits are those of :mod:`unival.metrics.grounding` (the evaluation's definitions), so
the figures here add up to the reported Acc@0.5.

* :func:`to_bins` re-quantises pixels to the ``<bin_k>`` index the model reads and writes:
  k = round(coord * P / image_side / max_image_size * (num_bins - 1)), P the square side the
  image is resized to. A de-quantised prediction maps back to the exact k it was decoded from.
* :func:`coordinate_errors`: per coordinate, mean / median absolute error and the signed
  mean (bias, prediction minus truth), in whatever unit the boxes are given.
* :func:`placement`: whether each prediction sits on the target, on another object of the
  scene, or on no object (IoU >= thresh with positive overlap; the target wins ties).
* :func:`iou_histogram`: counts in ``0`` (no overlap), ``(0, 0.1)``, ``[0.1, 0.2)`` ...
  ``[0.9, 1]``.
* :func:`distinct_boxes`, :func:`size_summary`, :func:`grouped_accuracy`,
  :func:`centre_quadrant`, :func:`random_object_accuracy`: collapse, box size, and where the
  hits fall.
"""

from __future__ import annotations

from collections import Counter
from typing import Dict, List, Sequence, Union

import numpy as np

from unival.metrics.grounding import box_iou, grounding_hits

COORDS = ("x0", "y0", "x1", "y1")
PLACES = ("target", "other", "none")
IOU_EDGES = tuple(round(0.1 * i, 1) for i in range(11))

Boxes = Union[np.ndarray, Sequence[Sequence[float]]]


def as_array(boxes: Boxes) -> np.ndarray:
    """(N, 4) float64 array; ValueError for any other shape."""
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {arr.shape}")
    return arr


def bin_scale(image_side: float, patch_image_size: int, max_image_size: int, num_bins: int):
    """Bins per original pixel along one axis: P / side / max_image_size * (num_bins - 1)."""
    return patch_image_size / image_side / max_image_size * (num_bins - 1)


def to_bins(boxes: Boxes, x_scale, y_scale) -> np.ndarray:
    """(N, 4) pixel boxes -> (N, 4) int bin indices (round half to even, as Python's round).

    ``x_scale`` / ``y_scale``: bins per pixel, a float or an (N,) array (one per image)."""
    b = as_array(boxes)
    xs = np.broadcast_to(np.asarray(x_scale, dtype=np.float64), (b.shape[0],))
    ys = np.broadcast_to(np.asarray(y_scale, dtype=np.float64), (b.shape[0],))
    scale = np.stack([xs, ys, xs, ys], axis=1)
    return np.round(b * scale).astype(np.int64)


def coordinate_errors(pred: Boxes, gt: Boxes) -> Dict[str, Dict[str, float]]:
    """Per coordinate name: ``mean_abs``, ``median_abs`` and ``bias`` (mean of pred - gt)."""
    p, g = as_array(pred), as_array(gt)
    if p.shape != g.shape:
        raise ValueError(f"{len(p)} predicted boxes vs {len(g)} ground-truth boxes")
    diff = p - g
    return {
        name: {
            "mean_abs": float(np.abs(diff[:, i]).mean()),
            "median_abs": float(np.median(np.abs(diff[:, i]))),
            "bias": float(diff[:, i].mean()),
        }
        for i, name in enumerate(COORDS)
    }


def placement(
    pred: Boxes, targets: Boxes, others: Sequence[Boxes], thresh: float = 0.5
) -> List[str]:
    """Per row ``"target"``, ``"other"`` or ``"none"``.

    ``others[i]``: the boxes of row i's non-target objects (possibly empty). A row is
    "target" when the prediction hits the target at ``thresh``, else "other" when it hits any
    other object, else "none"."""
    p, t = as_array(pred), as_array(targets)
    if len(p) != len(t) or len(p) != len(others):
        raise ValueError(f"{len(p)} predictions, {len(t)} targets, {len(others)} object lists")
    target_hits = grounding_hits(p, t, thresh).tolist()
    places = []
    for i, hit in enumerate(target_hits):
        if hit:
            places.append("target")
            continue
        row_others = np.asarray(others[i], dtype=np.float64).reshape(-1, 4)
        on_other = len(row_others) > 0 and bool(
            grounding_hits(np.repeat(p[i : i + 1], len(row_others), 0), row_others, thresh).any()
        )
        places.append("other" if on_other else "none")
    return places


def fractions(labels: Sequence[str], names: Sequence[str] = PLACES) -> Dict[str, float]:
    """Share of each name among ``labels`` (0.0 for an absent name; empty -> all 0.0)."""
    counts = Counter(labels)
    return {name: counts[name] / len(labels) if labels else 0.0 for name in names}


def iou_histogram(ious: Sequence[float]) -> Dict[str, int]:
    """Counts per bin: ``"0"`` (IoU exactly 0), ``"(0, 0.1)"``, ``"[0.1, 0.2)"``, ...,
    ``"[0.9, 1]"`` (each bin holds its lower edge except the first)."""
    values = np.asarray(ious, dtype=np.float64)
    labels = ["0", "(0, 0.1)"] + [
        f"[{IOU_EDGES[i]}, {IOU_EDGES[i + 1]})" for i in range(1, len(IOU_EDGES) - 2)
    ]
    labels.append(f"[{IOU_EDGES[-2]}, 1]")
    counts = dict.fromkeys(labels, 0)
    for v in values:
        if v <= 0.0:
            counts["0"] += 1
            continue
        index = min(int(np.floor(v * 10 + 1e-9)), 9)  # 1.0 goes to the last bin
        counts[labels[index + 1]] += 1
    return counts


def distinct_boxes(pred: Boxes, top: int = 5) -> Dict[str, object]:
    """``distinct`` (number of different boxes) and ``most_common``: [(box, count)] (<= top)."""
    p = as_array(pred)
    counts = Counter(tuple(float(c) for c in row) for row in p)
    return {
        "distinct": len(counts),
        "most_common": [(list(box), n) for box, n in counts.most_common(top)],
    }


def size_summary(pred: Boxes, gt: Boxes) -> Dict[str, float]:
    """Mean width / height of predictions and references, and the median area ratio
    (pred / gt; a reference of area 0 is left out of the ratio)."""
    p, g = as_array(pred), as_array(gt)
    pw, ph = p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]
    gw, gh = g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
    garea = gw * gh
    keep = garea > 0
    ratio = (pw * ph)[keep] / garea[keep]
    return {
        "pred_width": float(pw.mean()),
        "pred_height": float(ph.mean()),
        "gt_width": float(gw.mean()),
        "gt_height": float(gh.mean()),
        "median_area_ratio": float(np.median(ratio)) if len(ratio) else float("nan"),
    }


def grouped_accuracy(
    pred: Boxes, gt: Boxes, groups: Sequence[str], thresh: float = 0.5
) -> Dict[str, Dict[str, float]]:
    """Per group (sorted): ``n``, ``acc`` (hits at ``thresh``) and ``miou``."""
    p, g = as_array(pred), as_array(gt)
    ious = box_iou(p, g).numpy()
    hits = grounding_hits(p, g, thresh).numpy()
    out = {}
    names = np.asarray(list(groups), dtype=object)
    for name in sorted(set(groups)):
        rows = names == name
        out[name] = {
            "n": int(rows.sum()),
            "acc": float(hits[rows].mean()),
            "miou": float(ious[rows].mean()),
        }
    return out


def centre_quadrant(box: Sequence[float], width: float, height: float) -> str:
    """``"top-left"``, ``"top-right"``, ``"bottom-left"`` or ``"bottom-right"`` of the box
    centre (a centre on a midline counts as bottom / right)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    vertical = "top" if cy < height / 2 else "bottom"
    horizontal = "left" if cx < width / 2 else "right"
    return f"{vertical}-{horizontal}"


def random_object_accuracy(
    targets: Boxes, scene_boxes: Sequence[Boxes], thresh: float = 0.5
) -> float:
    """Expected Acc of pointing at a uniformly drawn object of the scene (the target
    included): the mean over rows of (objects hitting the target) / (objects)."""
    t = as_array(targets)
    shares = []
    for i, boxes in enumerate(scene_boxes):
        objs = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(objs) == 0:
            raise ValueError(f"row {i}: the scene has no objects")
        hits = grounding_hits(objs, np.repeat(t[i : i + 1], len(objs), 0), thresh)
        shares.append(float(hits.double().mean()))
    return float(np.mean(shares)) if shares else 0.0


def mean_box(boxes: Boxes) -> List[float]:
    """The coordinate-wise mean box."""
    return as_array(boxes).mean(axis=0).tolist()


def constant_box_accuracy(box: Sequence[float], gt: Boxes, thresh: float = 0.5) -> float:
    """Acc at ``thresh`` of predicting ``box`` for every reference."""
    g = as_array(gt)
    return float(grounding_hits(np.repeat(as_array(box), len(g), 0), g, thresh).double().mean())


def _entropy(counts: Counter) -> float:
    n = sum(counts.values())
    return -sum(c / n * np.log(c / n) for c in counts.values())


def prior_entropy(bins: np.ndarray) -> Dict[str, float]:
    """Entropy (nats) of the training box tokens under a blind prior, per coordinate:
    the marginal of x0 / y0, and x1 given x0, y1 given y0 (what a model that ignores the
    image can reach as its mean per-token loss). ``bins``: (N, 4) int bin indices."""
    b = np.asarray(bins).reshape(-1, 4).tolist()
    out = {}
    for i, name in ((0, "x0"), (1, "y0")):
        out[name] = float(_entropy(Counter(row[i] for row in b)))
    for i, j, name in ((0, 2, "x1|x0"), (1, 3, "y1|y0")):
        joint = _entropy(Counter((row[i], row[j]) for row in b))
        out[name] = float(joint - _entropy(Counter(row[i] for row in b)))
    return out


def best_constant_box(candidates: Boxes, gt: Boxes, thresh: float = 0.5):
    """The candidate box that, predicted for every reference, hits the most of ``gt``:
    ``(box, accuracy)`` (ties: the first candidate). The strongest blind baseline among the
    candidates (e.g. every distinct training box, scored on the training boxes)."""
    c, g = as_array(candidates), as_array(gt)
    best, best_hits = None, -1
    for start in range(0, len(c), 256):  # 256 candidates x N references per call
        block = c[start : start + 256]
        pairs = (np.repeat(block, len(g), axis=0), np.tile(g, (len(block), 1)))
        hits = grounding_hits(*pairs, thresh).view(len(block), len(g)).sum(dim=1)
        i = int(hits.argmax())  # the first of equal maxima
        if int(hits[i]) > best_hits:
            best, best_hits = block[i].tolist(), int(hits[i])
    return best, best_hits / len(g)
