"""The report arithmetic of ``python -m unival.demo.merge`` on hand-written sweep rows."""

import pytest

from unival.demo.merge.report import build_report, format_table, grid_summary
from unival.merging.plot import SweepRow

OWN = {"caption": 2.0, "vqa_gen": 0.5, "refcoco": 0.8}


def rows(method, points):
    """``points``: {lambda: {task: value}} -> SweepRows."""
    return [
        SweepRow(method, lam, task, "m", value, f"{method}_{lam}.pt")
        for lam, scores in points.items()
        for task, value in scores.items()
    ]


PAIR = rows(
    "interpolate",
    {
        0.0: {"caption": 0.4, "vqa_gen": 0.5},
        0.5: {"caption": 1.9, "vqa_gen": 0.46},
        1.0: {"caption": 2.0, "vqa_gen": 0.2},
    },
)


def test_pair_retention_best_lambda_and_the_90_percent_range():
    summary = grid_summary(PAIR, OWN, "lambda")
    by_lambda = {p["lambda"]: p["retention"] for p in summary["curve"]}
    assert by_lambda[0.0] == pytest.approx({"caption": 0.2, "vqa_gen": 1.0})
    assert by_lambda[0.5] == pytest.approx({"caption": 0.95, "vqa_gen": 0.92})
    assert by_lambda[1.0] == pytest.approx({"caption": 1.0, "vqa_gen": 0.4})
    assert summary["best"]["lambda"] == 0.5
    assert summary["best"]["mean_retention"] == pytest.approx(0.935)
    assert summary["lambdas_keeping_90pct"] == [0.5] and summary["holds_90pct"] is True


def test_an_expert_scoring_zero_gives_no_ratio_and_never_keeps():
    summary = grid_summary(PAIR, {"caption": 0.0, "vqa_gen": 0.5}, "lambda")
    assert all(p["retention"]["caption"] is None for p in summary["curve"])
    assert summary["lambdas_keeping_90pct"] == [] and summary["holds_90pct"] is False
    assert summary["best"]["lambda"] == 0.0  # ranked on vqa_gen alone: 1.0, 0.92, 0.4


def test_the_base_scale_is_not_a_candidate_for_the_best_merge():
    ta = rows(
        "task-arithmetic",
        {
            0.0: {"caption": 2.0, "vqa_gen": 0.5, "refcoco": 0.8},
            0.5: {"caption": 1.0, "vqa_gen": 0.25, "refcoco": 0.4},
            1.0: {"caption": 0.2, "vqa_gen": 0.05, "refcoco": 0.08},
        },
    )
    summary = grid_summary(ta, OWN, "scale", exclude=[0.0])
    assert summary["best"]["scale"] == 0.5
    assert summary["scales_keeping_90pct"] == [0.0]  # the verdict lists every grid point


def _report():
    pairs = {"caption_vqa": {"A": "caption", "B": "vqa", "csv": "c.csv", "png": "c.png"}}
    vectors = {
        "task-arithmetic": rows(
            "task-arithmetic",
            {
                0.0: {"caption": 1.0, "vqa_gen": 0.3, "refcoco": 0.1},
                0.5: {"caption": 1.5, "vqa_gen": 0.4, "refcoco": 0.7},
            },
        ),
        "ties": rows("ties", {1.0: {"caption": 1.9, "vqa_gen": 0.48, "refcoco": 0.76}}),
    }
    files = {
        "task-arithmetic": {"csv": "t.csv", "png": "t.png", "density": None},
        "ties": {"csv": "s.csv", "png": "s.png", "density": 0.2},
    }
    return build_report(
        {},
        {"caption": "cider", "vqa_gen": "vqa_score", "refcoco": "score"},
        OWN,
        {"caption": "caption", "vqa": "vqa_gen", "refcoco": "refcoco"},
        pairs,
        {"caption_vqa": PAIR},
        vectors,
        files,
        {"total": 1.0},
    )


def test_experts_on_other_tasks_come_from_the_pair_end_points():
    report = _report()
    assert report["experts"]["caption"] == {"caption": 2.0, "vqa_gen": 0.2}  # lambda 1 = A
    assert report["experts"]["vqa"] == {"caption": 0.4, "vqa_gen": 0.5}  # lambda 0 = B
    checks = {(c["expert"], c["task"]): c["equal"] for c in report["endpoint_checks"]}
    assert checks == {("caption", "caption"): True, ("vqa", "vqa_gen"): True}
    assert report["base"] == {"caption": 1.0, "vqa_gen": 0.3, "refcoco": 0.1}  # scale 0
    ties = report["task_vector_merges"]["ties"]
    assert ties["best"]["scale"] == 1.0 and ties["holds_90pct"] is True  # 0.95, 0.96, 0.95
    table = format_table(report)
    assert "caption_vqa lambda=0.50" in table and "ties scale=1.00 d=0.2" in table


def test_the_base_must_be_in_the_task_arithmetic_grid():
    pairs = {"caption_vqa": {"A": "caption", "B": "vqa"}}
    vectors = {"task-arithmetic": rows("task-arithmetic", {0.5: {"caption": 1.0}})}
    with pytest.raises(ValueError, match="must include 0"):
        build_report(
            {},
            {},
            OWN,
            {"caption": "caption", "vqa": "vqa_gen"},
            pairs,
            {"caption_vqa": PAIR},
            vectors,
            {"task-arithmetic": {}},
            {},
        )
