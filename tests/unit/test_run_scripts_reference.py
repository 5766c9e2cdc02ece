"""The run scripts follow the authors' recipes where this toolkit matched them: criterions,
backbone weights, validation settings and per-dataset evaluation splits (values written by hand
from the authors' scripts; rendered with DRY_RUN=1 and parsed with fairseq's parser)."""

import pytest
from test_run_scripts import RUN_SCRIPTS, machine, parse_command, render, rendered_argv  # noqa: F401

#: recipes the authors trained with the encouraging loss (log-end 0.75, drop best 0.05 after 6000)
ENCOURAGING = ["caption", "video_caption", "video_qa", "audio_caption"]


@pytest.mark.parametrize("recipe", ENCOURAGING)
def test_encouraging_loss_recipes_parse_and_ce_is_a_knob(recipe, machine):  # noqa: F811
    _, args = parse_command(rendered_argv(RUN_SCRIPTS / recipe / "train.sh", machine))
    assert args.criterion == "adjust_label_smoothed_encouraging_loss"
    assert (args.log_end, args.drop_best_ratio, args.drop_best_after) == (0.75, 0.05, 6000)
    assert (args.drop_worst_ratio, args.drop_worst_after, args.label_smoothing) == (0.05, 6000, 0.1)
    _, args = parse_command(
        rendered_argv(RUN_SCRIPTS / recipe / "train.sh", {**machine, "CRITERION": "ce"})
    )
    assert args.criterion == "adjust_label_smoothed_cross_entropy" and not hasattr(args, "log_end")
    proc = render(RUN_SCRIPTS / recipe / "train.sh", {**machine, "CRITERION": "focal"})
    assert (
        proc.returncode == 2 and "CRITERION must be encouraging or ce (got 'focal')" in proc.stderr
    )


@pytest.mark.parametrize("recipe", ["vqa", "refcoco", "snli_ve"])
def test_the_authors_ce_recipes_keep_ce(recipe, machine):  # noqa: F811
    _, args = parse_command(rendered_argv(RUN_SCRIPTS / recipe / "train.sh", machine))
    assert args.criterion == "adjust_label_smoothed_cross_entropy"


# script, variable, the authors' file, extra environment that selects the stage's encoder
BACKBONES = [
    ("audio_caption/train.sh", "AUDIO_MODEL_PATH", "Cnn14_mAP=0.431.pth", "--audio-model-path"),
    (
        "pretraining/stage1.sh",
        "RESNET_MODEL_PATH",
        "resnet101_a1h-36d3f2aa.pth",
        "--resnet-model-path",
    ),
    ("pretraining/stage2.sh", "VIDEO_MODEL_PATH", "resnext-101-kinetics.pth", "--video-model-path"),
]


@pytest.mark.parametrize("script,variable,file,flag", BACKBONES)
def test_backbone_files_required(script, variable, file, flag, machine, tmp_path):  # noqa: F811
    env = dict(machine)
    del env[variable]
    proc = render(RUN_SCRIPTS / script, env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert (
        f"{variable} is not set" in proc.stderr
        and file in proc.stderr
        and f"{variable}=none" in proc.stderr
    )
    # the explicit opt-out: the encoder starts from random weights, no flag
    argv = rendered_argv(RUN_SCRIPTS / script, {**env, variable: "none"})
    assert not any(a.startswith(flag) for a in argv)
    # set: the flag carries the file; a real run refuses a path that is not a file
    argv = rendered_argv(RUN_SCRIPTS / script, machine)
    assert f"{flag}={machine[variable]}" in argv
    proc = render(
        RUN_SCRIPTS / script, {**machine, "DRY_RUN": "0", variable: str(tmp_path / "missing.pth")}
    )
    assert (
        proc.returncode == 2
        and f"{variable}={tmp_path / 'missing.pth'}: no such file" in proc.stderr
    )


def test_backbone_files_are_not_asked_for_where_the_init_has_them(machine):  # noqa: F811
    """Stage 2-HS starts from stage 2 (video encoder trained); fine-tuning from unival_s2_hs."""
    env = {k: v for k, v in machine.items() if not k.endswith("_MODEL_PATH")}
    for script in (
        "pretraining/stage2_hs.sh",
        "caption/train.sh",
        "video_caption/train.sh",
        "vqa/train.sh",
    ):
        argv = rendered_argv(RUN_SCRIPTS / script, env)
        assert not any("model-path" in a for a in argv), script
    # an encoder other than the authors' has no such file: not required (e.g. the toy recipes)
    argv = rendered_argv(
        RUN_SCRIPTS / "audio_caption" / "train.sh", {**env, "AUDIO_ENCODER": "pann_cnn6"}
    )
    assert not any("model-path" in a for a in argv)


def test_validation_settings_of_the_authors(machine):  # noqa: F811
    _, args = parse_command(rendered_argv(RUN_SCRIPTS / "snli_ve" / "train.sh", machine))
    # the authors validate SNLI-VE every 50000 updates: once per epoch (an epoch is ~2100 updates)
    assert (args.validate_interval, args.validate_interval_updates, args.max_tgt_length) == (
        1,
        50000,
        20,
    )
    for recipe in ("caption", "vqa", "refcoco", "video_caption", "video_qa", "audio_caption"):
        _, args = parse_command(rendered_argv(RUN_SCRIPTS / recipe / "train.sh", machine))
        assert args.fixed_validation_seed == 7, recipe
        # not matched on purpose: the authors' --keep-best-checkpoints=1 writes a second copy of
        # checkpoint_best.pt (run_scripts/README.md)
        assert args.keep_best_checkpoints == -1, recipe
        assert args.validate_interval_updates == 2000, recipe


@pytest.mark.parametrize(
    "dataset,split", [("refcoco", "testA"), ("refcocoplus", "testA"), ("refcocog", "test")]
)
def test_refcoco_eval_defaults_to_a_split_the_dataset_has(dataset, split, machine):  # noqa: F811
    kind, args = parse_command(
        rendered_argv(RUN_SCRIPTS / "refcoco" / "eval.sh", {**machine, "DATASET": dataset})
    )
    assert (
        kind == "eval" and args.data == f"{machine['UNIVAL_DATA']}/{dataset}/{dataset}_{split}.tsv"
    )


def test_refcocog_refuses_a_split_it_does_not_have(machine):  # noqa: F811
    proc = render(
        RUN_SCRIPTS / "refcoco" / "eval.sh", {**machine, "DATASET": "refcocog", "SPLIT": "testA"}
    )
    assert proc.returncode == 2 and "RefCOCOg has no testA split" in proc.stderr
