"""benchmarks/demo_recipe_search.py: variants at fixed updates, the table, and refusals."""

import pytest
from helpers import load_benchmark

from unival.demo.multitask import MultitaskSettings


@pytest.fixture(scope="module")
def search():
    return load_benchmark("demo_recipe_search")


def test_scale_fixes_every_budgets_updates_and_lifts_the_caps(search):
    demo = MultitaskSettings()
    s = search.variant_settings("demo", scale=0.8)
    assert s.pretrain.updates == round(0.8 * demo.pretrain.updates) == 1040
    assert s.experts["vqa"].updates == round(0.8 * demo.experts["vqa"].updates) == 1600
    assert s.experts["refcoco"].updates == 1120
    assert s.experts["video_qa"].lr == demo.experts["video_qa"].lr  # only updates and caps move
    assert min(b.minutes for b in [s.pretrain, *s.experts.values()]) >= 24 * 60


def test_variants_override_the_demo_settings_and_capped_keeps_its_budgets(search):
    s = search.variant_settings("base_lr_1e-3")
    assert s.pretrain_lr == 1e-3 and s.pretrain == MultitaskSettings().pretrain
    ops = search.variant_settings("no_colour_augment").pretrain_augment_ops.split(",")
    assert "Equalize" not in ops and "AutoContrast" not in ops and "Rotate" in ops
    with pytest.raises(SystemExit, match="unknown variant 'bigger'"):
        search.variant_settings("bigger")


def test_table_shows_score_and_updates_per_task(search):
    results = {
        "demo": {
            "description": "make demo's recipe",
            "base_updates": 1040,
            "tasks": {"vqa": {"score": 0.4921, "updates": 200}},
        }
    }
    lines = search.format_table(results, ["vqa", "refcoco"]).splitlines()
    assert lines[0] == "| variant | base updates | vqa | refcoco |"
    assert lines[2] == "| demo: make demo's recipe | 1040 | 0.492 (200) | - |"


def test_refuses_unknown_tasks_and_needs_a_budget_mode(search, tmp_path, capsys):
    with pytest.raises(SystemExit, match="unknown \\['ocr'\\]"):
        search.main(["--out", str(tmp_path), "--tasks", "vqa,ocr", "--scale", "1"])
    with pytest.raises(SystemExit) as stop:
        search.main(["--out", str(tmp_path)])
    assert stop.value.code == 2 and "--scale" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="--base: .*missing.pt does not exist"):
        search.main(
            ["--out", str(tmp_path), "--scale", "1", "--base", str(tmp_path / "missing.pt")]
        )


def test_the_vqa_start_variant_fine_tunes_vqa_from_the_base(search):
    assert search.variant_settings("vqa_from_base").vqa_from == "base"
    assert search.variant_settings("demo").vqa_from == "caption"
