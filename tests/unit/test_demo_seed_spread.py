"""benchmarks/demo_seed_spread.py: the table of the audio-transfer seed spread."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "demo_seed_spread.py"


@pytest.fixture(scope="module")
def spread_module():
    spec = importlib.util.spec_from_file_location("demo_seed_spread", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
