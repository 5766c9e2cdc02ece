"""Every run script renders (DRY_RUN=1) to a command that fairseq's own parser accepts.

The scripts are run as real bash processes with dummy machine paths; the printed command is
split with shlex and parsed with fairseq's training parser (``fairseq-train``), the
evaluator's parser (``unival eval``) or the merge parser (``unival merge``). The multi-step
recipes of ``merging/`` print one command a line. Expected values are the recipe numbers of
the released scripts, written out here by hand.
"""

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_SCRIPTS = REPO_ROOT / "run_scripts"
ALL_SHELL_FILES = sorted(RUN_SCRIPTS.rglob("*.sh"))
SCRIPTS = sorted(p for p in ALL_SHELL_FILES if p.parent.name != "lib")
MULTI_STEP = {p for p in SCRIPTS if p.parent.name == "merging"}  # one command a line


def script_id(path: Path) -> str:
    return str(path.relative_to(RUN_SCRIPTS))


@pytest.fixture()
def machine(tmp_path):
    """Dummy UNIVAL_DATA / UNIVAL_CKPT / UNIVAL_OUT, and none of the scripts' settings inherited."""
    from unival.demo.context import run_script_variables

    data = tmp_path / "data"
    data.mkdir()
    drop = run_script_variables()
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("UNIVAL_")}
    env.update(
        UNIVAL_DATA=str(data),
        UNIVAL_CKPT=str(tmp_path / "ckpt"),
        UNIVAL_OUT=str(tmp_path / "out"),
        DEVICE="cpu",
        DRY_RUN="1",
        # the backbone weights the recipes start new encoders from (required by stage 1, stage 2
        # and AudioCaps; a dry run does not open them)
        RESNET_MODEL_PATH=str(tmp_path / "ckpt" / "resnet101_a1h-36d3f2aa.pth"),
        VIDEO_MODEL_PATH=str(tmp_path / "ckpt" / "resnext-101-kinetics.pth"),
        AUDIO_MODEL_PATH=str(tmp_path / "ckpt" / "Cnn14_mAP=0.431.pth"),
    )
    return env


def render(script: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(script), *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def rendered_commands(script: Path, env: dict, *args: str) -> list:
    """The argv of every command the script prints (one a line)."""
    proc = render(script, env, *args)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines, f"DRY_RUN printed nothing: {proc.stderr}"
    return [shlex.split(line) for line in lines]


def rendered_argv(script: Path, env: dict, *args: str) -> list:
    commands = rendered_commands(script, env, *args)
    assert len(commands) == 1, f"DRY_RUN must print exactly one line, got {commands!r}"
    return commands[0]


def user_args_command(commands: list) -> list:
    """The command that gets the script's trailing arguments and EXTRA_ARGS: the (first)
    training of a multi-step recipe, else its first command."""
    return next((argv for argv in commands if Path(argv[0]).name == "fairseq-train"), commands[0])


def parse_command(argv: list):
    """Parse a rendered command with the parser of the program it runs; returns (kind, args)."""
    from fairseq import options

    program = Path(argv[0]).name
    if program == "fairseq-train":
        parser = options.get_training_parser()
        return "train", options.parse_args_and_arch(parser, argv[1:])
    if program == "unival" and argv[1] == "eval":
        from unival.commands import eval as evaluate

        return "eval", evaluate.build_parser().parse_args(argv[2:])
    if program == "unival" and argv[1] == "merge":
        from unival.merging.parser import build_parser

        return "merge", build_parser().parse_args(argv[2:])
    raise AssertionError(f"no parser known for {argv[:2]}: teach test_run_scripts.parse_command")


def test_there_are_scripts_to_check():
    assert RUN_SCRIPTS / "caption" / "train.sh" in SCRIPTS
    assert RUN_SCRIPTS / "caption" / "eval.sh" in SCRIPTS


@pytest.mark.parametrize("path", ALL_SHELL_FILES, ids=script_id)
def test_bash_syntax(path):
    proc = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=script_id)
def test_every_script_renders_and_parses(script, machine):
    commands = rendered_commands(script, machine)
    assert len(commands) == 1 or script in MULTI_STEP, f"one command expected, got {commands}"
    for argv in commands:
        kind, args = parse_command(argv)
        assert kind in {"train", "eval", "merge"}


@pytest.mark.parametrize("script", SCRIPTS, ids=script_id)
def test_a_user_flag_overrides_the_scripts_own_and_is_logged(script, machine):
    argv = user_args_command(rendered_commands(script, machine))
    script_flag = next(a for a in argv if a.startswith("--") and "=" in a)
    name = script_flag.split("=")[0]
    for env, args in (
        ({**machine, "EXTRA_ARGS": f"{name}=USER"}, ()),
        (machine, (f"{name}=USER",)),
    ):
        proc = render(script, env, *args)
        assert proc.returncode == 0, proc.stderr
        new_argv = user_args_command([shlex.split(line) for line in proc.stdout.splitlines()])
        values = [a for a in new_argv if a.split("=")[0] == name]
        assert values == [script_flag, f"{name}=USER"]  # argparse keeps the last: the user's
        assert f"your {name}=USER overrides the script's {script_flag}" in proc.stderr
    # a flag the user gives twice is still a mistake
    proc = render(script, {**machine, "EXTRA_ARGS": f"{name}=1"}, f"{name}=2")
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"flag {name} is given twice in your arguments" in proc.stderr


def test_a_flag_the_script_sets_twice_is_refused(machine):
    """The duplicate check still guards the scripts' own flags (a recipe bug)."""
    snippet = (
        f"source {RUN_SCRIPTS}/lib/env.sh; source {RUN_SCRIPTS}/lib/launch.sh; "
        'launch fairseq-train data --lr=1 --max-epoch=2 --lr=3 "$@"'
    )
    proc = subprocess.run(
        ["bash", "-c", snippet, "script", "--seed=4"],
        env=machine,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "flag --lr is given twice by the run script" in proc.stderr
    snippet = snippet.replace(" --lr=3", "")
    proc = subprocess.run(
        ["bash", "-c", snippet, "script", "--lr=4"],
        env=machine,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and shlex.split(proc.stdout) == [
        "fairseq-train",
        "data",
        "--lr=1",
        "--max-epoch=2",
        "--lr=4",
    ]
    assert "your --lr=4 overrides the script's --lr=1" in proc.stderr


def test_a_user_criterion_wins_and_brings_its_own_flag_set(machine):
    """``--criterion=...`` after the script: the script renders that criterion's flags (the
    encouraging loss's --log-end would not parse under cross-entropy) and fairseq parses it."""
    script = RUN_SCRIPTS / "caption" / "train.sh"
    ce = "--criterion=adjust_label_smoothed_cross_entropy"
    proc = render(script, machine, ce)
    assert proc.returncode == 0, proc.stderr
    assert (
        f"your {ce} overrides the recipe's --criterion=adjust_label_smoothed_encouraging_loss"
        in proc.stderr
    )
    _, args = parse_command(shlex.split(proc.stdout))
    assert args.criterion == "adjust_label_smoothed_cross_entropy" and args.drop_worst_ratio == 0.05
    assert not hasattr(args, "log_end")
    # and the other way round: CRITERION=ce, then the user asks for the encouraging loss
    el = "--criterion=adjust_label_smoothed_encouraging_loss"
    _, args = parse_command(rendered_argv(script, {**machine, "CRITERION": "ce"}, el))
    assert args.criterion == "adjust_label_smoothed_encouraging_loss" and args.log_end == 0.75


def test_caption_train_is_the_coco_recipe(machine):
    kind, args = parse_command(rendered_argv(RUN_SCRIPTS / "caption" / "train.sh", machine))
    assert kind == "train"
    assert (args.task, args.arch, args.criterion) == (
        "caption",
        "unival_base",
        "adjust_label_smoothed_encouraging_loss",
    )
    # the authors' 8 GPUs x 16 = 128 samples per update, on this one process: 16 x 8 steps
    assert (
        args.lr == [1e-5]
        and args.max_epoch == 10
        and args.batch_size == 16
        and args.update_freq == [8]
    )
    # warmup over 6% of the updates of 10 epochs of the training file (counted by the scheduler)
    assert args.lr_scheduler == "polynomial_decay_warmup_ratio" and args.warmup_ratio == 0.06
    assert float(args.total_num_update) == 0 and args.end_learning_rate == 0.0
    assert args.patch_image_size == 480
    assert json.loads(args.eval_args) == {"beam": 5, "max_len_b": 22, "no_repeat_ngram_size": 3}
    assert (
        args.eval_cider
        and args.best_checkpoint_metric == "cider"
        and args.maximize_best_checkpoint_metric
    )
    assert (
        args.label_smoothing == 0.1
        and args.drop_worst_ratio == 0.05
        and args.drop_worst_after == 6000
    )
    assert (args.drop_best_ratio, args.drop_best_after, args.log_end) == (0.05, 6000, 0.75)
    assert args.optimizer == "adam" and args.adam_betas == "(0.9,0.999)" and args.adam_eps == 1e-8
    assert args.weight_decay == 0.01 and args.clip_norm == 1.0
    for flag in (
        "encoder_normalize_before",
        "decoder_normalize_before",
        "share_all_embeddings",
        "share_decoder_input_output_embed",
        "layernorm_embedding",
        "patch_layernorm_embedding",
        "add_type_embedding",
        "scale_attn",
        "scale_fc",
        "scale_heads",
        "freeze_encoder_embedding",
        "freeze_decoder_embedding",
    ):
        assert getattr(args, flag) is True, flag
    assert (args.dropout, args.attention_dropout) == (0.1, 0.0)
    assert (
        args.encoder_drop_path_rate,
        args.decoder_drop_path_rate,
        args.resnet_drop_path_rate,
    ) == (0.1, 0.1, 0.0)
    assert (
        args.reset_optimizer
        and args.reset_dataloader
        and args.reset_meters
        and args.no_epoch_checkpoints
    )
    assert args.validate_interval_updates == 2000
    data_dir, out_dir, ckpt_dir = (
        machine["UNIVAL_DATA"],
        machine["UNIVAL_OUT"],
        machine["UNIVAL_CKPT"],
    )
    assert args.data == f"{data_dir}/caption_train.tsv,{data_dir}/caption_valid.tsv"
    assert args.restore_file == f"{ckpt_dir}/unival_s2_hs/checkpoint1.pt"
    assert args.save_dir == f"{out_dir}/caption/caption_unival_base"
    assert args.cpu is True and args.fp16 is False


def test_caption_train_env_overrides_and_extra_args(machine):
    env = {
        **machine,
        "ARCH": "unival_tiny",
        "LR": "5e-4",
        "BATCH_SIZE": "10",
        "MAX_EPOCH": "3",
        "INIT_CHECKPOINT": "scratch",
        "DEVICE": "gpu",
        "MAX_UPDATE": "50",
        "EXTRA_ARGS": "--wandb-project 'my project'",
    }
    _, args = parse_command(
        rendered_argv(RUN_SCRIPTS / "caption" / "train.sh", env, "--patience=4")
    )
    assert (
        args.arch == "unival_tiny"
        and args.lr == [5e-4]
        and args.batch_size == 10
        and args.max_epoch == 3
    )
    assert (
        args.max_update == 50 and float(args.total_num_update) == 50
    )  # the schedule ends at MAX_UPDATE
    assert args.restore_file == "checkpoint_last.pt"  # fairseq's default: nothing to restore from
    assert args.fp16 is True and args.fp16_scale_window == 512 and args.cpu is False
    assert args.wandb_project == "my project" and args.patience == 4


def test_missing_machine_path_is_a_clear_error(machine):
    env = dict(machine)
    del env["UNIVAL_OUT"]
    proc = render(RUN_SCRIPTS / "caption" / "train.sh", env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "UNIVAL_OUT is not set" in proc.stderr
    env = dict(machine)
    del env["UNIVAL_DATA"]
    proc = render(RUN_SCRIPTS / "caption" / "train.sh", env)
    assert proc.returncode == 2 and "UNIVAL_DATA is not set" in proc.stderr


def test_unknown_device_and_launcher_are_rejected(machine):
    proc = render(RUN_SCRIPTS / "caption" / "train.sh", {**machine, "DEVICE": "tpu"})
    assert proc.returncode == 2 and "DEVICE must be" in proc.stderr
    proc = render(
        RUN_SCRIPTS / "caption" / "train.sh", {**machine, "DRY_RUN": "0", "LAUNCHER": "nope"}
    )
    assert proc.returncode == 2 and "unknown LAUNCHER 'nope'" in proc.stderr


def test_caption_eval_is_the_test_recipe(machine):
    kind, args = parse_command(rendered_argv(RUN_SCRIPTS / "caption" / "eval.sh", machine))
    assert kind == "eval"
    out = machine["UNIVAL_OUT"]
    assert args.checkpoint == f"{out}/caption/caption_unival_base/checkpoint_best.pt"
    assert args.data == f"{machine['UNIVAL_DATA']}/caption_test.tsv"
    assert args.results_path == f"{out}/caption/caption_unival_base/eval_caption_test"
    assert (args.beam, args.max_len_b, args.no_repeat_ngram_size, args.unnormalized) == (
        5,
        22,
        3,
        True,
    )
    assert (args.batch_size, args.patch_image_size, args.selected_cols) == (16, 480, "1,4,2")
    assert args.cpu is True and args.fp16 is False
    _, args = parse_command(
        rendered_argv(
            RUN_SCRIPTS / "caption" / "eval.sh",
            {**machine, "DEVICE": "gpu", "CHECKPOINT": "/x/a.pt"},
        )
    )
    assert args.fp16 is True and args.cpu is False and args.checkpoint == "/x/a.pt"
