"""The reinforcement fine-tuning recipes render to commands fairseq's parser accepts, with the
criterion options of the authors' refcoco/scst scripts (grounding, one AREA bucket per run) and
the caption SCST stage."""

import json

import pytest
import test_run_scripts as base
from test_run_scripts import RUN_SCRIPTS, parse_command, render, rendered_argv

machine = base.machine  # the dummy-machine fixture of the main run-script tests

REFCOCO_SCST = RUN_SCRIPTS / "refcoco" / "train_scst.sh"
CAPTION_SCST = RUN_SCRIPTS / "caption" / "train_scst.sh"


def test_caption_scst_recipe(machine):
    kind, args = parse_command(rendered_argv(CAPTION_SCST, machine))
    assert kind == "train"
    assert (args.task, args.criterion, args.scst) == ("caption", "scst_reward_criterion", True)
    assert json.loads(args.scst_args) == {"beam": 5, "max_len_b": 16}
    assert args.scst_baseline == "leave-one-out" and args.scst_cider_cached_tokens is None
    # one process: 32 steps of 2 = OFA's caption stage 2 (8 GPUs x 2 x 4)
    assert (
        args.lr == [1e-5]
        and args.batch_size == 2
        and args.update_freq == [32]
        and args.max_epoch == 5
    )
    data, out = machine["UNIVAL_DATA"], machine["UNIVAL_OUT"]
    assert args.data == f"{data}/caption_stage2_train.tsv,{data}/caption_valid.tsv"
    assert args.restore_file == f"{out}/caption/caption_unival_base/checkpoint_best.pt"
    # SCST starts from the cross-entropy model's weights only: its optimizer, learning-rate
    # schedule and update count (often past MAX_UPDATE) must not carry over
    # reset_optimizer: the schedule too
    assert args.reset_optimizer and args.reset_dataloader and args.reset_meters
    assert args.eval_cider and args.best_checkpoint_metric == "cider"
    assert args.constraint_range == "text"  # sampled captions never hold image codes
    env = {
        **machine,
        "SCST_BASELINE": "greedy",
        "CIDER_CACHED_TOKENS": "/c/words.p",
        "SCST_ARGS": '{"sampling":true,"beam":4}',
    }
    _, args = parse_command(rendered_argv(CAPTION_SCST, env))
    assert args.scst_baseline == "greedy" and args.scst_cider_cached_tokens == "/c/words.p"
    assert json.loads(args.scst_args) == {"sampling": True, "beam": 4}


def test_caption_scst_chair_penalty_knobs(machine):
    _, args = parse_command(rendered_argv(CAPTION_SCST, machine))
    assert (args.scst_chair_penalty, args.scst_chair_gt) == (0.0, None)  # off by default
    _, args = parse_command(
        rendered_argv(CAPTION_SCST, {**machine, "CHAIR_PENALTY": "0.5", "CHAIR_GT": "/g/s.json"})
    )
    assert (args.scst_chair_penalty, args.scst_chair_gt) == (0.5, "/g/s.json")
    argv = rendered_argv(CAPTION_SCST, {**machine, "CHAIR_PENALTY": "0.0", "CHAIR_GT": "/g/s.json"})
    assert "--scst-chair-gt=/g/s.json" in argv and not any(
        a.startswith("--scst-chair-penalty") for a in argv
    )
    proc = render(CAPTION_SCST, {**machine, "CHAIR_PENALTY": "1"})
    assert (
        proc.returncode == 2
        and proc.stdout == ""
        and "CHAIR_PENALTY=1 needs CHAIR_GT" in proc.stderr
    )
    assert args.scst_chair_bonus == 0.0
    _, args = parse_command(
        rendered_argv(
            CAPTION_SCST,
            {**machine, "CHAIR_PENALTY": "2", "CHAIR_BONUS": "0.5", "CHAIR_GT": "/g/s.json"},
        )
    )
    assert (args.scst_chair_penalty, args.scst_chair_bonus) == (2.0, 0.5)
    proc = render(CAPTION_SCST, {**machine, "CHAIR_BONUS": "1"})
    assert proc.returncode == 2 and "CHAIR_BONUS=1 needs CHAIR_GT" in proc.stderr


@pytest.mark.parametrize(
    "area, max_area, min_area, medium",
    [
        ("small", 30000.0, None, False),
        ("medium", 30000.0, 100000.0, True),
        ("large", None, 100000.0, False),
        ("small+large", 30000.0, 100000.0, False),
        ("medium+large", 30000.0, None, True),
        ("medium+small", None, 100000.0, True),
        ("all", None, None, False),
    ],
)
def test_refcoco_scst_area_buckets(machine, area, max_area, min_area, medium):
    kind, args = parse_command(rendered_argv(REFCOCO_SCST, {**machine, "AREA": area}))
    assert (
        kind == "train"
        and args.criterion == "refcoco_scst_reward_criterion"
        and args.task == "refcoco"
    )
    assert (args.max_area_size, args.min_area_size, args.medium_area) == (
        max_area,
        min_area,
        medium,
    )
    out = machine["UNIVAL_OUT"]
    assert args.save_dir == f"{out}/refcoco/refcocoplus_scst_{area}_unival_base"


def test_refcoco_scst_recipe_values(machine):
    _, args = parse_command(rendered_argv(REFCOCO_SCST, machine))
    assert args.scst and json.loads(args.scst_args) == {
        "beam": 5,
        "min_len": 4,
        "max_len_a": 0,
        "max_len_b": 4,
    }
    assert (args.acc_thresh, args.metric, args.lambda_reinforce) == ("0.5", "acc", 5.0)
    # one process: 32 steps of 8 = the authors' 8 GPUs x 8 x 4
    assert (
        args.lr == [3e-5]
        and args.max_epoch == 10
        and args.batch_size == 8
        and args.update_freq == [32]
    )
    assert args.warmup_ratio == 0.06 and args.patch_image_size == 512
    assert args.pos_reward is None and args.neg_reward is None
    data, out = machine["UNIVAL_DATA"], machine["UNIVAL_OUT"]
    assert (
        args.data
        == f"{data}/refcocoplus/refcocoplus_train.tsv,{data}/refcocoplus/refcocoplus_val.tsv"
    )
    assert args.restore_file == f"{out}/refcoco/refcocoplus_unival_base/checkpoint_best.pt"
    assert args.reset_optimizer and args.reset_dataloader and args.reset_meters
    _, args = parse_command(
        rendered_argv(REFCOCO_SCST, {**machine, "REWARD_METRIC": "iou", "NEG_REWARD": "-1"})
    )
    assert args.metric == "iou" and args.neg_reward == -1.0


def test_refcoco_scst_rejects_an_unknown_area(machine):
    proc = render(REFCOCO_SCST, {**machine, "AREA": "huge"})
    assert (
        proc.returncode == 2 and proc.stdout == "" and "AREA must be small, medium" in proc.stderr
    )
