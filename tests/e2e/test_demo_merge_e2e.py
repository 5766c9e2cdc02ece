"""``python -m unival.demo.merge --smoke`` end to end: toy world, unify_task base, three experts,
pair / task-arithmetic / TIES sweeps, report.json.

The smoke settings train for a handful of updates, so the numbers mean nothing; the test checks
the structure of the report and the files, and an invariant of the sweeps: the end points of a
pair (lambda 1 = A, lambda 0 = B) are the experts themselves, so their scores and predictions
equal those of the direct ``unival eval`` of each expert checkpoint.
"""

import csv
import json
import struct
import sys

import pytest
import torch
from helpers import run_logged

from unival.safe_load import load_checkpoint_file

pytestmark = pytest.mark.slow  # about 1 minute on 2 CPU cores

EXPERTS = {
    "caption": ("caption", "cider"),
    "vqa": ("vqa_gen", "vqa_score"),
    "refcoco": ("refcoco", "score"),
}
PAIRS = (("caption", "vqa"), ("caption", "refcoco"), ("vqa", "refcoco"))
LAMBDAS = [0.0, 0.5, 1.0]  # the smoke grid
KEEP = 0.9


def _csv(path):
    with open(path, newline="") as handle:
        return [
            dict(r, **{"lambda": float(r["lambda"]), "value": float(r["value"])})
            for r in csv.DictReader(handle)
        ]


def _is_png(path):
    data = path.read_bytes()
    width, height = struct.unpack(">II", data[16:24])
    return (
        data[:8] == b"\x89PNG\r\n\x1a\n" and width > 100 and height > 100 and data[-8:-4] == b"IEND"
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory, repo_root):
    out = tmp_path_factory.mktemp("demo_merge")
    stdout = run_logged(
        [sys.executable, "-m", "unival.demo.merge", "--smoke", "--out", out],
        repo_root,
        out.parent / "demo_merge.log",
        timeout=600,
    )
    return out, json.loads((out / "report.json").read_text()), stdout


def _direct(out, expert, name):
    """What ``unival eval`` of the expert checkpoint on its own task wrote."""
    return json.loads((out / "experts" / expert / "eval_valid" / name).read_text())


def test_report_has_every_model_on_every_task(demo):
    out, report, stdout = demo
    tasks = {task for task, _ in EXPERTS.values()}
    assert report["metrics"] == {task: metric for task, metric in EXPERTS.values()}
    assert set(report["base"]) == tasks
    assert set(report["experts"]) == set(EXPERTS)
    for scores in report["experts"].values():
        assert set(scores) == tasks
    for method in ("task-arithmetic", "ties"):
        merge = report["task_vector_merges"][method]
        assert set(merge["best"]["scores"]) == tasks and merge["best"]["scale"] != 0.0
        assert isinstance(merge["holds_90pct"], bool)
    assert report["task_vector_merges"]["ties"]["density"] == report["settings"]["ties_density"]
    assert set(report["pairs"]) == {f"{a}_{b}" for a, b in PAIRS}
    assert report["settings"]["updates"] == {"base": 4, "caption": 3, "vqa": 3, "refcoco": 3}
    assert report["seconds"]["total"] > 0
    for header in ("base (multitask pretrained)", "caption expert", "keeps >= 90%", "total"):
        assert header in stdout


def test_sweep_files_exist_with_one_row_per_grid_point_and_task(demo):
    out, report, _ = demo
    for name, pair in report["pairs"].items():
        a, b = pair["A"], pair["B"]
        rows = _csv(pair["csv"])
        assert sorted((r["lambda"], r["task"]) for r in rows) == sorted(
            (lam, EXPERTS[e][0]) for lam in LAMBDAS for e in (a, b)
        )
        assert _is_png(out / "sweeps" / name / f"{name}_sweep.png")
    for method, merge in report["task_vector_merges"].items():
        rows = _csv(merge["csv"])
        assert {r["task"] for r in rows} == {task for task, _ in EXPERTS.values()}
        assert _is_png(
            out / "sweeps" / method.replace("-", "_") / f"{method.replace('-', '_')}_sweep.png"
        )
        assert {r["method"] for r in rows} == {method}


def test_pair_end_points_are_the_experts(demo):
    out, report, _ = demo
    for a, b in PAIRS:
        name = f"{a}_{b}"
        rows = _csv(out / "sweeps" / name / f"{name}_sweep.csv")
        for expert, lam, stem in ((a, 1.0, f"{name}_l1.00"), (b, 0.0, f"{name}_l0.00")):
            task, metric = EXPERTS[expert]
            direct = _direct(out, expert, "scores.json")[metric]
            (value,) = [r["value"] for r in rows if r["lambda"] == lam and r["task"] == task]
            assert value == direct, (name, expert)
            assert report["experts"][expert][task] == direct
            suffix = "" if expert == a else f".{task}"  # B's task is evaluated with B's config
            predictions = (
                out / "sweeps" / name / "eval" / f"{stem}{suffix}" / task / "predictions.json"
            )
            assert json.loads(predictions.read_text()) == _direct(out, expert, "predictions.json")


def test_experts_are_distinct_fine_tunings_of_the_base(demo):
    out, _, _ = demo
    log = (out / "train.log").read_text()
    base = out / "pretrain" / "checkpoints" / "checkpoint_last.pt"
    assert log.count(f"Loaded checkpoint {base}") == 3  # each expert restores the base
    weights = {
        name: load_checkpoint_file(out / "experts" / name / "checkpoints" / "checkpoint_last.pt")[
            "model"
        ]
        for name in EXPERTS
    }
    weights["base"] = load_checkpoint_file(base)["model"]
    assert len({frozenset(w) for w in weights.values()}) == 1  # the same keys: mergeable
    key = "encoder.layers.0.fc1.weight"
    names = list(weights)
    for i, x in enumerate(names):
        for y in names[i + 1 :]:
            assert not torch.equal(weights[x][key], weights[y][key]), (x, y)


def test_retention_and_the_90_percent_verdicts_match_the_files(demo):
    out, report, _ = demo
    own = {EXPERTS[e][0]: _direct(out, e, "scores.json")[EXPERTS[e][1]] for e in EXPERTS}
    for name, pair in report["pairs"].items():
        rows = _csv(pair["csv"])
        kept = []
        for lam in LAMBDAS:
            ratios = [
                r["value"] / own[r["task"]] if own[r["task"]] > 0 else None
                for r in rows
                if r["lambda"] == lam
            ]
            if all(x is not None and x >= KEEP for x in ratios):
                kept.append(lam)
        assert pair["lambdas_keeping_90pct"] == kept, name
        assert pair["holds_90pct"] == bool(kept)
