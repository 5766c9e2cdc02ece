"""The CPU demo's base schedule fitted to the machine's speed (``unival.demo.calibrate``)."""

from dataclasses import replace

import pytest

from unival.demo.calibrate import budget_scale, interval_ups, reference_ups
from unival.demo.multitask import Budget, MultitaskSettings

# two lines of a real fairseq-train log (make demo's base) and one that is not train_inner
LOG = (
    "2026-12-04 12:11:50 | INFO | train_inner | epoch 001:     50 / 1720 loss=8.173, "
    "nll_loss=8.173, ntokens=75.42, nsentences=16, wps=575.4, ups=7.6, wpb=75.4, bsz=16, "
    "num_updates=50, lr=0.000320513, gnorm=4.073, clip=18, train_wall=7, wall=9\n"
    "2026-12-04 12:11:56 | INFO | train_inner | epoch 001:    100 / 1720 loss=4.631, "
    "wps=534.7, ups=7.19, wpb=74.3, num_updates=100, train_wall=7, wall=16\n"
    "2026-12-04 12:12:00 | INFO | train | epoch 001 | loss 4.2 | wps 530 | ups 6.9 | wall 20\n"
)


def test_interval_ups_reads_each_train_inner_line_and_nothing_else():
    assert interval_ups(LOG) == [7.6, 7.19]


def test_reference_is_the_speed_at_which_the_base_fills_its_cap():
    s = replace(MultitaskSettings(), pretrain=Budget(1200, 5.0))
    assert reference_ups(s) == pytest.approx(4.0)


@pytest.mark.parametrize(
    "ups, expected",
    [(8.0, 1.8), (2.0, 1.0), (4.0, 1.0), (40.0, 3.0)],  # faster, slower, equal, far faster
)
def test_budget_scale_is_clamped_between_one_and_the_maximum(ups, expected):
    assert budget_scale(ups, reference=4.0, margin=0.9, max_scale=3.0) == pytest.approx(expected)


def test_a_fast_machine_gets_at_most_fifteen_percent_more_base_updates():
    assert budget_scale(40.0, reference=4.0) == pytest.approx(1.15)
    assert budget_scale(5.0, reference=4.0) == pytest.approx(0.85 * 5.0 / 4.0)  # under the cap


def test_a_chosen_base_schedule_replaces_the_probe_and_leaves_the_experts():
    from unival.demo.profiles import settings_for

    plain, chosen = settings_for("cpu"), settings_for("cpu", base_updates=2000)
    assert chosen.pretrain == Budget(2000, plain.pretrain.minutes) and not chosen.calibrate
    assert chosen.experts == plain.experts and plain.calibrate


def test_only_the_cpu_recipe_calibrates():
    from unival.demo.multitask import SMOKE
    from unival.demo.profiles import GPU

    assert MultitaskSettings().calibrate
    assert not SMOKE.calibrate and not GPU.calibrate
