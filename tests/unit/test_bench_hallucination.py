"""benchmarks/bench_hallucination.py: the SCST training file and the commands it runs."""

import shlex
import subprocess
from argparse import Namespace

import pytest
from helpers import load_benchmark

from unival.demo.context import RUN_SCRIPTS, demo_environment


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_hallucination")


def test_per_image_rows_join_an_images_captions_under_its_id(bench, tmp_path):
    src = tmp_path / "caption_train.tsv"
    src.write_text(
        "0_0\t0\ta red circle\tred circle\timg0\n0_1\t0\tone red circle\tred circle\timg0\n"
        "1_0\t1\ta blue square\tblue square\timg1\n2_0\t2\ta square\tgreen square\timg2\n"
    )
    out = tmp_path / "scst.tsv"
    assert bench.per_image_rows(src, out, limit=2) == 2
    assert out.read_text().splitlines() == [
        "0\t0\ta red circle&&one red circle\tred circle\timg0",
        "1\t1\ta blue square\tblue square\timg1",
    ]
    src.write_text("0_0\t0\ta red circle\timg0\n")
    with pytest.raises(ValueError, match="caption_train.tsv row 1: 4 columns"):
        bench.per_image_rows(src, out, limit=5)


def test_scst_arm_renders_the_chair_penalty_through_the_run_script(bench, tmp_path):
    (tmp_path / "dict.txt").write_text("a 1\n")
    args = Namespace(
        samples=5, sampling=False, sampling_topk=5, updates=30, lr=1e-4, batch_size=8, seed=3
    )

    def render(penalty, bonus=0.0):
        env = bench.scst_env(
            args,
            tmp_path,
            tmp_path / "scst.tsv",
            tmp_path / "expert.pt",
            tmp_path / "arm",
            penalty,
            bonus,
        )
        proc = subprocess.run(
            ["bash", str(RUN_SCRIPTS / "caption" / "train_scst.sh")],
            capture_output=True,
            text=True,
            env={**demo_environment(), **env, "DRY_RUN": "1", "RESUME": "0"},
            check=True,
        )
        return dict(
            a.partition("=")[::2] for a in shlex.split(proc.stdout.strip()) if a.startswith("--")
        )

    flags = render(2.0)
    assert flags["--scst-chair-penalty"] == "2.0" and flags["--scst-chair-gt"] == str(
        tmp_path / "scenes_train.json"
    )
    assert flags["--restore-file"] == str(tmp_path / "expert.pt") and "--reset-optimizer" in flags
    assert flags["--max-update"] == "30" and flags["--lr"] == "0.0001" and flags["--seed"] == "3"
    assert "--scst-chair-penalty" not in render(0.0)
    flags = render(2.0, 1.0)
    assert flags["--scst-chair-penalty"] == "2.0" and flags["--scst-chair-bonus"] == "1.0"


def test_arms_are_penalty_plus_bonus(bench):
    assert bench.parse_arms("0,2,2+1") == {
        "scst_cider": (0.0, 0.0),
        "scst_chair_2": (2.0, 0.0),
        "scst_chair_2_bonus_1": (2.0, 1.0),
    }
    with pytest.raises(SystemExit, match="'x' is not penalty"):
        bench.parse_arms("0,x")
