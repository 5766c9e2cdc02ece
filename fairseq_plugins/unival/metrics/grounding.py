"""Visual-grounding metrics: IoU, Acc@thresh and box-size breakdowns.

Boxes are ``(x0, y0, x1, y1)`` in pixels, given as (N, 4) tensors or sequences of 4 numbers.

* IoU = inter / (area_pred + area_gt - inter + 1e-6), with the intersection's width and
  height clamped at 0 (a degenerate box has area 0 and IoU 0 with anything).
* A prediction is a hit at threshold t when IoU >= t **and** the intersection has positive
  width and height.
* Size filters on the ground-truth area A (pixels² of the original image), as in the original code:
  ``max_area`` only -> A < max ("small"); ``min_area`` only -> A > min ("large"); both ->
  (A < max) or (A > min); with ``medium``: both -> max < A < min, max only -> A > max,
  min only -> A < min.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Union

import torch

IOU_EPS = 1e-6
SMALL_MAX_AREA = 30000.0  # the released RL scripts' thresholds: small < 30000 px²
LARGE_MIN_AREA = 100000.0  # large > 100000 px², medium in between

Boxes = Union[torch.Tensor, Sequence[Sequence[float]]]


def as_boxes(boxes: Boxes) -> torch.Tensor:
    """(N, 4) float64 tensor from a tensor or a list of 4-number boxes (one box -> (1, 4))."""
    tensor = torch.as_tensor(boxes, dtype=torch.float64)
    if tensor.dim() == 1:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() != 2 or tensor.size(-1) != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {tuple(tensor.shape)}")
    return tensor


def box_area(boxes: Boxes) -> torch.Tensor:
    """(N,) areas (x1 - x0) * (y1 - y0), as written (not clamped)."""
    b = as_boxes(boxes)
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def _intersection_wh(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    left_top = torch.maximum(pred[:, :2], gt[:, :2])
    right_bottom = torch.minimum(pred[:, 2:], gt[:, 2:])
    return (right_bottom - left_top).clamp(min=0)


def box_iou(pred: Boxes, gt: Boxes) -> torch.Tensor:
    """(N,) IoU of row-aligned boxes with the reference's +1e-6 in the denominator."""
    p, g = as_boxes(pred), as_boxes(gt)
    if p.shape != g.shape:
        raise ValueError(f"{p.size(0)} predicted boxes vs {g.size(0)} ground-truth boxes")
    wh = _intersection_wh(p, g)
    inter = wh[:, 0] * wh[:, 1]
    return inter / (box_area(p) + box_area(g) - inter + IOU_EPS)


def grounding_hits(pred: Boxes, gt: Boxes, thresh: float = 0.5) -> torch.Tensor:
    """(N,) bool: IoU >= ``thresh`` and positive intersection width and height."""
    p, g = as_boxes(pred), as_boxes(gt)
    wh = _intersection_wh(p, g)
    return (box_iou(p, g) >= thresh) & (wh[:, 0] > 0) & (wh[:, 1] > 0)


def area_filter(
    areas: torch.Tensor,
    min_area: Optional[float] = None,
    max_area: Optional[float] = None,
    medium: bool = False,
) -> torch.Tensor:
    """(N,) bool: which ground-truth areas the size filter keeps (all when no bound)."""
    areas = torch.as_tensor(areas, dtype=torch.float64)
    if min_area is None and max_area is None:
        return torch.ones_like(areas, dtype=torch.bool)
    if medium:
        if min_area is not None and max_area is not None:
            return (areas > max_area) & (areas < min_area)
        if max_area is not None:
            return areas > max_area
        return areas < min_area
    if min_area is not None and max_area is not None:
        return (areas < max_area) | (areas > min_area)
    if max_area is not None:
        return areas < max_area
    return areas > min_area


def size_category(
    areas: torch.Tensor, small_max: float = SMALL_MAX_AREA, large_min: float = LARGE_MIN_AREA
) -> list:
    """ "small" (A < small_max), "large" (A > large_min) or "medium" per area."""
    out = []
    for a in torch.as_tensor(areas, dtype=torch.float64).tolist():
        out.append("small" if a < small_max else "large" if a > large_min else "medium")
    return out


def grounding_statistics(
    pred: Boxes,
    gt: Boxes,
    thresholds: Sequence[float] = (0.5,),
    min_area: Optional[float] = None,
    max_area: Optional[float] = None,
    medium: bool = False,
) -> Dict[str, float]:
    """Summable counts for a batch: ``n``, ``hits@t`` per threshold, ``iou_sum``, and per size
    category ``n_<size>`` / ``hits@t_<size>``; rows outside the area filter are not counted."""
    p, g = as_boxes(pred), as_boxes(gt)
    areas = box_area(g)
    keep = area_filter(areas, min_area, max_area, medium)
    p, g, areas = p[keep], g[keep], areas[keep]
    sizes = size_category(areas)
    stats: Dict[str, float] = {
        "n": float(p.size(0)),
        "iou_sum": float(box_iou(p, g).sum()) if len(p) else 0.0,
    }
    for size in ("small", "medium", "large"):
        stats[f"n_{size}"] = float(sizes.count(size))
    for t in thresholds:
        hits = grounding_hits(p, g, t) if len(p) else torch.zeros(0, dtype=torch.bool)
        stats[f"hits@{t:g}"] = float(hits.sum())
        for size in ("small", "medium", "large"):
            stats[f"hits@{t:g}_{size}"] = float(
                sum(h for h, s in zip(hits.tolist(), sizes) if s == size)
            )
    return stats


def accuracies_from_statistics(stats: Dict[str, float]) -> Dict[str, float]:
    """``acc@t`` (and ``acc@t_<size>`` where that size occurs) and ``miou`` from summed stats."""
    out: Dict[str, float] = {}
    n = stats.get("n", 0.0)
    if n > 0:
        out["miou"] = stats.get("iou_sum", 0.0) / n
    for key, value in stats.items():
        if not key.startswith("hits@"):
            continue
        name = key[len("hits@") :]
        thresh, _, size = name.partition("_")
        denom = stats.get(f"n_{size}", 0.0) if size else n
        if denom > 0:
            out[f"acc@{thresh}" + (f"_{size}" if size else "")] = value / denom
    return out


def parse_thresholds(value: Union[str, float, Sequence[float]]) -> list:
    """``"0.5,0.75"`` -> [0.5, 0.75]; a number -> [number]."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not parts:
            raise ValueError("no accuracy threshold given")
        return [float(p) for p in parts]
    if isinstance(value, (int, float)):
        return [float(value)]
    return [float(v) for v in value]
