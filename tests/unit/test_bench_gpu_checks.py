"""benchmarks/gpu_checks.py: how a recipe run's log is judged, and the step list."""

import pytest
from helpers import load_benchmark


@pytest.fixture(scope="module")
def checks():
    return load_benchmark("gpu_checks")


def _inner(loss, updates):
    return (
        f"2026-12-04 15:00:00 | INFO | train_inner | epoch 001:      5 / 62 loss={loss}, "
        f"nll_loss=9.1, ppl=550.2, wps=1000, ups=3.1, wpb=300, bsz=16, num_updates={updates}, "
        "lr=1e-06, gnorm=2.1, train_wall=1, gb_free=100, wall=10\n"
    )


def test_finite_losses_up_to_the_last_update_pass(checks):
    log = _inner("9.146", 5) + _inner("8.75", 10) + "done training in 12.0 seconds\n"
    check = checks.loss_check(log)
    assert check["losses"] == [9.146, 8.75] and check["last_update"] == 10
    assert check["all_finite"] and check["done"] and check["overflows"] == 0


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_a_non_finite_loss_fails(checks, bad):
    check = checks.loss_check(_inner("9.1", 5) + _inner(bad, 10))
    assert not check["all_finite"] and check["last_update"] == 10


def test_no_logged_loss_is_not_a_pass(checks):
    check = checks.loss_check("fairseq-train: error\n")
    assert not check["all_finite"] and check["last_update"] == 0


def test_unknown_steps_are_refused(checks, tmp_path):
    with pytest.raises(SystemExit, match="unknown steps"):
        checks.main(["--out", str(tmp_path), "--steps", "train,tpu"])
