"""The report of ``python -m unival.demo.merge``: the sweep CSVs -> ``report.json`` and a table.

Scores are the task metrics of :data:`unival.demo.merge.steps.EXPERTS` (caption CIDEr-D,
vqa_gen VQA score, refcoco Acc@0.5) on the validation subsets. *Retention* of a merged model on
a task is its score divided by the score of that task's expert (None where the expert scores
0). Where each number comes from:

* expert X on its own task: ``unival eval`` of X's checkpoint (``own``);
* expert X on another task T: the pair sweep of X with T's expert at the end point that is X
  (lambda 1 for A, 0 for B: the merge copies that model's weights exactly);
* the base on every task: the task-arithmetic sweep at scale 0 (base + 0 * task vectors = the
  base's weights, evaluated with each expert's task config);
* best interpolation of a pair: the lambda with the highest mean retention on the two tasks;
  best task-arithmetic / TIES: the non-zero scale with the highest mean retention on all tasks
  (both chosen on the same validation subsets they are reported on).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from unival.merging.plot import SweepRow

KEEP = 0.9  # the paper's claim: a lambda range keeping >= 90% of each expert on its own task


def curve(rows: Sequence[SweepRow]) -> Dict[float, Dict[str, float]]:
    """``{lambda or scale: {task: score}}`` in grid order."""
    points: Dict[float, Dict[str, float]] = {}
    for row in rows:
        points.setdefault(row.lam, {})[row.task] = row.value
    return points


def retention(scores: Dict[str, float], own: Dict[str, float]) -> Dict[str, Optional[float]]:
    """``score / expert score`` per task (None where the expert scores 0 or less)."""
    return {task: (value / own[task] if own[task] > 0 else None) for task, value in scores.items()}


def mean_retention(ratios: Dict[str, Optional[float]]) -> float:
    """Mean over tasks, a None ratio counting as 0 (used only to rank grid points)."""
    return sum(r or 0.0 for r in ratios.values()) / len(ratios)


def keeps(ratios: Dict[str, Optional[float]]) -> bool:
    return all(r is not None and r >= KEEP for r in ratios.values())


def grid_summary(
    rows: Sequence[SweepRow], own: Dict[str, float], key: str, exclude: Sequence[float] = ()
) -> Dict:
    """The curve with retentions, the best grid point (excluding ``exclude``) and the points
    that keep >= 90% on every task."""
    points = curve(rows)
    table = [
        {key: value, "scores": scores, "retention": retention(scores, own)}
        for value, scores in points.items()
    ]
    candidates = [p for p in table if p[key] not in exclude]
    best = max(candidates, key=lambda p: mean_retention(p["retention"]))
    kept = [p[key] for p in table if keeps(p["retention"])]
    return {
        "curve": table,
        "best": {**best, "mean_retention": mean_retention(best["retention"])},
        f"{key}s_keeping_90pct": kept,
        "holds_90pct": bool(kept),
    }


def expert_scores(
    pairs: Dict[str, Dict],
    pair_rows: Dict[str, List[SweepRow]],
    own: Dict[str, float],
    expert_tasks: Dict[str, str],
) -> Dict[str, Dict]:
    """``{expert: {task: score}}`` from the pair end points; plus the end-point checks
    (the end point of an expert on its own task against its direct evaluation)."""
    scores: Dict[str, Dict[str, float]] = {name: {} for name in expert_tasks}
    checks = []
    for name, pair in pairs.items():
        points = curve(pair_rows[name])
        for expert, lam in ((pair["A"], 1.0), (pair["B"], 0.0)):
            for task, value in points[lam].items():
                scores[expert][task] = value
                if task == expert_tasks[expert]:
                    checks.append(
                        {
                            "pair": name,
                            "expert": expert,
                            "lambda": lam,
                            "task": task,
                            "sweep": value,
                            "direct": own[task],
                            "equal": value == own[task],
                        }
                    )
    return {"scores": scores, "endpoint_checks": checks}


def build_report(
    settings: Dict,
    metrics: Dict[str, str],
    own: Dict[str, float],
    expert_tasks: Dict[str, str],
    pairs: Dict[str, Dict],
    pair_rows: Dict[str, List[SweepRow]],
    vector_rows: Dict[str, List[SweepRow]],
    vector_files: Dict[str, Dict],
    seconds: Dict,
) -> Dict:
    """``report.json``: see the module docstring; ``pairs[name]`` holds A, B, csv and png."""
    experts = expert_scores(pairs, pair_rows, own, expert_tasks)
    report = {
        "settings": settings,
        "metrics": metrics,
        "expert_own": {
            name: {"task": task, "score": own[task]} for name, task in expert_tasks.items()
        },
        "experts": experts["scores"],
        "endpoint_checks": experts["endpoint_checks"],
        "pairs": {},
        "task_vector_merges": {},
        "seconds": seconds,
    }
    for name, pair in pairs.items():
        report["pairs"][name] = {**pair, **grid_summary(pair_rows[name], own, "lambda")}
    ta = curve(vector_rows["task-arithmetic"])
    if 0.0 not in ta:
        raise ValueError("the task-arithmetic scales must include 0 (the base model)")
    report["base"] = ta[0.0]
    for method, rows in vector_rows.items():
        report["task_vector_merges"][method] = {
            **vector_files[method],
            **grid_summary(rows, own, "scale", exclude=[0.0]),
        }
    return report


def _cells(scores: Dict[str, float], tasks: Sequence[str]) -> str:
    return "".join(f"{scores[t]:>20.3f}" if t in scores else f"{'-':>20}" for t in tasks)


def format_table(report: Dict) -> str:
    """The printed summary: one line per model, then the >= 90% verdicts."""
    metrics = report["metrics"]
    tasks = list(metrics)
    lines = [
        f"{'model':<34}" + "".join(f"{t + ' ' + metrics[t]:>20}" for t in tasks),
        f"{'base (multitask pretrained)':<34}" + _cells(report["base"], tasks),
    ]
    for name, scores in report["experts"].items():
        lines.append(f"{name + ' expert':<34}" + _cells(scores, tasks))
    for name, pair in report["pairs"].items():
        best = pair["best"]
        lines.append(
            f"{name + ' lambda=' + format(best['lambda'], '.2f'):<34}"
            + _cells(best["scores"], tasks)
        )
    for method, merge in report["task_vector_merges"].items():
        best = merge["best"]
        label = f"{method} scale={best['scale']:.2f}"
        if merge.get("density") is not None:
            label += f" d={merge['density']}"
        lines.append(f"{label:<34}" + _cells(best["scores"], tasks))
    lines.append(
        f"keeps >= {KEEP:.0%} of each expert on its own task (lambda = weight of the first expert):"
    )
    for name, pair in report["pairs"].items():
        kept = pair["lambdas_keeping_90pct"]
        verdict = ("lambda in {" + ", ".join(f"{x:g}" for x in kept) + "}") if kept else "no lambda"
        lines.append(
            f"  {name:<18} {verdict}; best lambda {pair['best']['lambda']:g}: "
            + _ratios(pair["best"]["retention"])
        )
    for method, merge in report["task_vector_merges"].items():
        best = merge["best"]
        verdict = "yes" if keeps(best["retention"]) else "no"
        lines.append(
            f"  {method:<18} {verdict} at scale {best['scale']:g}: " + _ratios(best["retention"])
        )
    unequal = [
        f"{c['pair']} lambda {c['lambda']:g}" for c in report["endpoint_checks"] if not c["equal"]
    ]
    lines.append(
        "pair end points equal the experts' own evaluations: "
        + (f"NO ({', '.join(unequal)})" if unequal else "yes")
    )
    return "\n".join(lines)


def _ratios(ratios: Dict[str, Optional[float]]) -> str:
    return ", ".join(f"{t} {'n/a' if r is None else format(r, '.0%')}" for t, r in ratios.items())
