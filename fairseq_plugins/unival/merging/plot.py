"""The results of ``unival merge sweep``: a CSV table and a PNG plot (metric vs lambda).

CSV columns (:data:`COLUMNS`), one row per grid value x evaluation:
``method, lambda, task, metric, value, checkpoint`` -- ``lambda`` is the interpolation weight
of A (``lam * A + (1 - lam) * B``) or the task-vector ``scale``; ``task`` the evaluation name
(``TASK[.LABEL]``); ``checkpoint`` the merged file that was evaluated.

The plot draws one line per evaluation with matplotlib's Agg canvas (no display, no pyplot
global state).
"""

from __future__ import annotations

import csv
import os
from dataclasses import asdict, dataclass
from typing import Dict, List, Sequence, Tuple

COLUMNS = ("method", "lambda", "task", "metric", "value", "checkpoint")
X_LABELS = {
    "interpolate": "lambda  (lambda * A + (1 - lambda) * B)",
    "task-arithmetic": "scale  (base + scale * sum of task vectors)",
    "ties": "scale  (base + scale * TIES task vector)",
}


@dataclass
class SweepRow:
    """One evaluation of one merged model."""

    method: str
    lam: float
    task: str
    metric: str
    value: float
    checkpoint: str

    def as_csv(self) -> Dict[str, str]:
        record = asdict(self)
        record["lambda"] = repr(record.pop("lam"))
        record["value"] = repr(self.value)
        return {key: str(record[key]) for key in COLUMNS}


def write_csv(rows: Sequence[SweepRow], path: str) -> str:
    """Write ``rows`` (floats written with ``repr``: they read back exactly)."""
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row.as_csv())
    return path


def read_csv(path: str) -> List[SweepRow]:
    """The rows of a sweep CSV (errors name the file and row)."""
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path}: columns are {reader.fieldnames}, expected {list(COLUMNS)}")
        for line, record in enumerate(reader, start=2):
            try:
                rows.append(
                    SweepRow(
                        record["method"],
                        float(record["lambda"]),
                        record["task"],
                        record["metric"],
                        float(record["value"]),
                        record["checkpoint"],
                    )
                )
            except (TypeError, ValueError) as error:
                raise ValueError(f"{path}, line {line}: {error}") from None
    return rows


def series(rows: Sequence[SweepRow]) -> Dict[Tuple[str, str], List[Tuple[float, float]]]:
    """``{(task, metric): [(lambda, value), ...]}`` sorted by lambda, in first-seen task order."""
    lines: Dict[Tuple[str, str], List[Tuple[float, float]]] = {}
    for row in rows:
        lines.setdefault((row.task, row.metric), []).append((row.lam, row.value))
    return {key: sorted(points) for key, points in lines.items()}


def plot_sweep(rows: Sequence[SweepRow], path: str, title: str = "") -> str:
    """Metric vs lambda, one line per evaluation, saved as a PNG at ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not rows:
        raise ValueError("no sweep results to plot")
    methods = sorted({row.method for row in rows})
    figure = Figure(figsize=(6.4, 4.4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    for (task, metric), points in series(rows).items():
        xs, ys = zip(*points)
        axes.plot(xs, ys, marker="o", label=f"{task} ({metric})")
    axes.set_xlabel(X_LABELS.get(methods[0], "lambda") if len(methods) == 1 else "lambda / scale")
    axes.set_ylabel("metric")
    axes.set_title(title or ", ".join(methods))
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    figure.savefig(path, format="png")
    return path
