"""benchmarks/demo_seed_spread.py: the seed-spread tables of the audio and merging findings,
and its refusals."""

import pytest
from helpers import load_benchmark


@pytest.fixture(scope="module")
def spread_module():
    return load_benchmark("demo_seed_spread")


def test_table_lists_every_seed_with_mean_and_sample_sd(spread_module):
    per_seed = {
        1: {"base": {"score": 2.0, "updates": 150}, "scratch": {"score": 3.0, "updates": 152}},
        2: {"base": {"score": 2.5, "updates": 149}, "scratch": {"score": 2.0, "updates": 151}},
        3: {"base": {"score": 1.5, "updates": 148}, "scratch": {"score": 2.5, "updates": 150}},
    }
    lines = spread_module.markdown(per_seed).splitlines()
    assert lines[2] == "| 1 | 2.000 (150 upd.) | 3.000 (152 upd.) | -1.000 |"
    assert lines[3].endswith("| +0.500 |")
    # base 2.0/2.5/1.5: mean 2.0, sd 0.5; scratch 3.0/2.0/2.5: mean 2.5, sd 0.5;
    # gains -1.0/+0.5/-1.0: mean -0.5, sd sqrt(0.75) = 0.866
    assert lines[-1] == "| mean ± sd | 2.000 ± 0.500 | 2.500 ± 0.500 | -0.500 ± 0.866 |"


def test_without_a_demo_run_it_says_what_to_do(spread_module, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        spread_module.main(["--demo-dir", str(tmp_path), "--out", str(tmp_path / "o")])
    assert stop.value.code == 2
    assert "run make demo" in capsys.readouterr().err


def _merge_run(caption, vqa, curve, best_lambda, worst, kept):
    """A per-seed record as run_merge_seed returns it; ``curve``: {lambda: (cider, vqa)}."""
    own = {"caption": caption, "vqa_gen": vqa}
    points = [
        {
            "lambda": lam,
            "scores": {"caption": c, "vqa_gen": v},
            "retention": {"caption": c / caption, "vqa_gen": v / vqa},
        }
        for lam, (c, v) in curve.items()
    ]
    best = next(p for p in points if p["lambda"] == best_lambda)
    return {
        "own": own,
        "updates": {"caption": 350, "vqa": 180},
        "best_worst_retention": worst,
        "curve": points,
        "best": best,
        "lambdas_keeping_90pct": kept,
    }


def test_merge_table_gives_retentions_and_how_many_seeds_held(spread_module):
    per_seed = {
        1: _merge_run(
            4.0, 0.5, {0.0: (1.0, 0.5), 0.5: (3.0, 0.45), 1.0: (4.0, 0.2)}, 0.5, 0.75, []
        ),
        2: _merge_run(
            3.0, 0.4, {0.0: (1.0, 0.4), 0.5: (2.85, 0.38), 1.0: (3.0, 0.1)}, 0.5, 0.95, [0.5]
        ),
    }
    lines = spread_module.merge_markdown(per_seed).splitlines()
    # seed 1 at lambda 0.5: caption 3.0 / 4.0 = 75%, VQA 0.45 / 0.5 = 90%
    assert lines[2] == (
        "| 1 | 4.000 (350 upd.) | 0.500 (180 upd.) | 0.5 | 75% / 90% | 75% | none |"
    )
    assert lines[3].endswith("| 0.5 | 95% / 95% | 95% | 0.5 |")
    # worst-task retentions 0.75 and 0.95: mean 0.85, sd 0.141; only seed 2 reaches 90%
    assert lines[-1] == (
        "| mean ± sd | 3.500 ± 0.707 | 0.450 ± 0.071 | | | 0.850 ± 0.141 | held in 1 of 2 |"
    )


def test_merge_grid_must_hold_both_experts(spread_module, tmp_path, capsys):
    base = tmp_path / "multitask" / "base" / "checkpoints"
    base.mkdir(parents=True)
    (base / "checkpoint_last.pt").write_bytes(b"")
    argv = ["--finding", "merge", "--demo-dir", str(tmp_path), "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as stop:
        spread_module.main([*argv, "--lambdas", "0.25", "0.5", "1"])
    assert stop.value.code == 2
    assert "--lambdas must hold 0 and 1" in capsys.readouterr().err
