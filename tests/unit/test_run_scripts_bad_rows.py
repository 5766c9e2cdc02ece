"""Training recipes skip (and count) unreadable rows by default and stop when more than
MAX_BAD_SAMPLE_FRACTION of them are bad; SKIP_BAD_SAMPLES=0 stops at the first bad row."""

import pytest
import test_run_scripts as base
from test_run_scripts import RUN_SCRIPTS, parse_command, rendered_argv

machine = base.machine  # the dummy-machine fixture of the main run-script tests

TRAIN_SCRIPTS = [
    RUN_SCRIPTS / "caption" / "train.sh",
    RUN_SCRIPTS / "refcoco" / "train_scst.sh",
    RUN_SCRIPTS / "pretraining" / "stage1.sh",
]


@pytest.mark.parametrize("script", TRAIN_SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_training_skips_bad_rows_by_default_within_a_budget(machine, script):
    kind, args = parse_command(rendered_argv(script, machine))
    assert (
        kind == "train" and args.skip_bad_samples is True and args.max_bad_sample_fraction == 0.01
    )
    _, args = parse_command(rendered_argv(script, {**machine, "MAX_BAD_SAMPLE_FRACTION": "0.05"}))
    assert args.skip_bad_samples is True and args.max_bad_sample_fraction == 0.05
    _, args = parse_command(rendered_argv(script, {**machine, "SKIP_BAD_SAMPLES": "0"}))
    assert args.skip_bad_samples is False
