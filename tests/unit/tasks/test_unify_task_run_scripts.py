"""The pretraining stage scripts render (DRY_RUN=1) to the authors' curriculum recipes
(pretraining/unival_s1.sh, unival_s2.sh, unival_s2_hs.sh), parsed by fairseq."""

import os
import shlex
import subprocess
from pathlib import Path

import pytest
from fairseq import options

REPO_ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = REPO_ROOT / "run_scripts"


def render_args(script: str, tmp_path, **env_overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNIVAL_")}
    env.update(
        UNIVAL_DATA=str(tmp_path / "data"),
        UNIVAL_CKPT=str(tmp_path / "ckpt"),
        UNIVAL_OUT=str(tmp_path / "out"),
        DEVICE="gpu",
        DRY_RUN="1",
        RESNET_MODEL_PATH=str(tmp_path / "r.pth"),
        VIDEO_MODEL_PATH=str(tmp_path / "v.pth"),
    )
    env.update(env_overrides)
    proc = subprocess.run(
        ["bash", str(SCRIPTS / script)], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    argv = shlex.split(proc.stdout.strip())
    return options.parse_args_and_arch(options.get_training_parser(), argv[1:])


@pytest.mark.parametrize(
    "script, lr, batch, size, frames, patch_num, init",
    [
        ("pretraining/stage1.sh", 2e-4, 2, 384, None, 144, "bart.base/model.pt"),
        ("pretraining/stage2.sh", 1e-4, 4, 384, (8, 224), 144, "unival_s1/checkpoint15.pt"),
        ("pretraining/stage2_hs.sh", 5e-5, 4, 480, (16, 384), 225, "unival_s2/checkpoint8.pt"),
    ],
)
def test_stage_recipes(tmp_path, script, lr, batch, size, frames, patch_num, init):
    args = render_args(script, tmp_path)
    assert (args.task, args.criterion, args.label_smoothing) == (
        "unify_task",
        "adjust_label_smoothed_cross_entropy",
        0.0,
    )
    # one process accumulates the authors' 128 GPUs x update-freq 2: 256 steps per update
    assert (
        args.lr == [lr]
        and args.batch_size == batch
        and args.update_freq == [256]
        and args.max_epoch == 50
    )
    assert args.lr_scheduler == "polynomial_decay_warmup_ratio" and args.warmup_ratio == 0.01
    assert args.clip_norm == 5.0 and args.fp16 and args.fp16_scale_window == 128
    assert args.patch_image_size == size and args.sample_patch_num == patch_num
    assert (
        args.disable_validation
        and args.reset_optimizer
        and args.reset_dataloader
        and args.reset_meters
    )
    assert args.restore_file == f"{tmp_path}/ckpt/{init}"
    data = f"{tmp_path}/data/pretrain"
    if frames is None:
        assert args.video_encoder_name == "none" and args.video_data is None
        assert args.data == f"{data}/vision_language_caption.tsv"
        assert (args.image_text_vqa_data, args.image_text_vqa_cnt) == (
            f"{data}/vision_language_qa.tsv",
            1,
        )
        assert (args.image_text_ground_data, args.image_text_ground_cnt) == (
            f"{data}/vision_language_ground.tsv",
            1,
        )
        assert (args.image_text_data, args.image_text_cnt) == (f"{data}/cc12m.tsv", 8)
    else:
        assert args.video_encoder_name == "all_resnext101" and args.video_cnt == 1
        assert args.video_data == f"{data}/video_mini_webvid2mccapqa.tsv"
        assert (args.num_frames, args.patch_frame_size) == frames
        assert (
            args.data == f"{data}/vision_language_mini_vqa_ground.tsv"
            and args.image_text_vqa_data is None
        )


def test_streams_can_be_dropped_and_staged_init_comes_from_the_environment(tmp_path):
    args = render_args(
        "pretraining/stage1.sh",
        tmp_path,
        IMAGE_TEXT_DATA="none",
        INIT_CHECKPOINT="/x/bart.pt",
        VQA_CNT="2",
    )
    assert (
        args.image_text_data is None
        and args.restore_file == "/x/bart.pt"
        and args.image_text_vqa_cnt == 2
    )


def test_refcoco_train_recipe(tmp_path):
    args = render_args("refcoco/train.sh", tmp_path, DATASET="refcocoplus")
    assert (args.task, args.lr, args.max_epoch, args.batch_size, args.update_freq) == (
        "refcoco",
        [5e-5],
        10,
        8,
        [32],
    )  # one process: the authors' 8 GPUs x update-freq 4
    assert args.lr_scheduler == "polynomial_decay_warmup_ratio" and args.warmup_ratio == 0.06
    assert args.patch_image_size == 512 and args.label_smoothing == 0.1 and args.clip_norm == 1.0
    assert (
        args.video_encoder_name == "none" and args.strict is False
    )  # --strict given: non-strict load
    assert args.eval_acc and args.best_checkpoint_metric == "score"
    folder = f"{tmp_path}/data/refcocoplus"
    assert args.data == f"{folder}/refcocoplus_train.tsv,{folder}/refcocoplus_val.tsv"
