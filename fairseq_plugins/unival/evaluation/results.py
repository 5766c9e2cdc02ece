"""What ``unival eval`` writes and prints: ``predictions.json``, ``scores.json``, the table."""

import json
import os
from typing import Dict, List


def caption_records(predictions: Dict[object, str]) -> List[dict]:
    """``[{"image_id": ..., "caption": ...}]`` of ``{image_id: caption}`` (COCO results format)."""
    return [{"image_id": k, "caption": v} for k, v in predictions.items()]


def write_records(results_path: str, records: List[dict], scores: Dict[str, float]) -> None:
    """``predictions.json`` (a task's per-sample records) and ``scores.json``."""
    os.makedirs(results_path, exist_ok=True)
    with open(os.path.join(results_path, "predictions.json"), "w") as f:
        json.dump(records, f, indent=1)
    with open(os.path.join(results_path, "scores.json"), "w") as f:
        json.dump(scores, f, indent=1)


def format_table(scores: Dict[str, float]) -> str:
    rows = [(k, f"{v:.4f}" if isinstance(v, float) else str(v)) for k, v in scores.items()]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{width}}  {v:>10}" for k, v in rows)
