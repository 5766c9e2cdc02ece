"""The demo's speed probe runs the base's real training command on a small toy world and
scales the base's schedule in the shared settings by what it measured."""

import subprocess
import sys
from dataclasses import replace

import pytest
from helpers import TEST_THREADS

from unival.demo import calibrate as cal
from unival.demo.context import TOY_WORLD_SCRIPT, DemoContext, demo_environment
from unival.demo.multitask import SMOKE


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("calibrate") / "toy_world"
    subprocess.run(
        [sys.executable, str(TOY_WORLD_SCRIPT), "--out", str(out), "--seed", "0"]
        + ["--num-train", "16", "--num-valid", "2", "--num-test", "2", "--image-size", "64"],
        check=True,
        capture_output=True,
    )
    return out


def test_probe_measures_the_base_and_scales_its_schedule(world, tmp_path, monkeypatch):
    monkeypatch.setattr(cal, "PROBE_UPDATES", 24)
    monkeypatch.setattr(cal, "PROBE_LOG_INTERVAL", 6)
    env = {**demo_environment(), "OMP_NUM_THREADS": str(TEST_THREADS)}
    ctx = DemoContext(out=tmp_path, seed=0, env=env)
    # a schedule no CPU fills in its cap, so the scale is not clamped to 1
    settings = replace(SMOKE, pretrain=replace(SMOKE.pretrain, updates=30, minutes=20.0))
    experts = dict(settings.experts)
    result = cal.calibrate(ctx, settings, world, tmp_path)

    assert result["reference_ups"] == pytest.approx(30 / 1200, abs=1e-3)
    # three logged intervals after the first: a real speed, far above the tiny reference
    assert result["probe_ups"] > 0.1 and result["scale"] == cal.MAX_BASE_SCALE
    assert settings.pretrain == replace(
        SMOKE.pretrain, updates=round(30 * cal.MAX_BASE_SCALE), minutes=20.0
    )
    assert settings.experts == experts
    assert not (tmp_path / "speed_probe").exists()
