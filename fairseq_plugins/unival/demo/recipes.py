"""The toy training recipe every demo shares: environment for the run scripts at toy size
on CPU (:func:`common_train_env`), the multitask base (:func:`pretrain_env`,
:func:`prepare_pretraining`), a fixed update
schedule with a wall-clock cap (:func:`schedule_args`), where an image expert starts
(:func:`image_expert_init`), an expert's fine-tuning (:func:`finetune_env`), the evaluation
(:func:`eval_env`) and what a checkpoint records
(:func:`checkpoint_state`).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

if TYPE_CHECKING:
    from unival.demo.tasks import DemoTask

# unival_tiny has a ResNeXt video encoder by default; the image-only base and experts drop it
# (the refcoco recipe and unify_task without video data already do), so all four checkpoints
# have the same keys.
NO_VIDEO_ENCODER = "--video-encoder-name=none"
#: where an image expert may start (``settings.<task>_from``): the base, or an expert trained
#: before it; experts not listed start from the base
EXPERT_STARTS: Dict[str, Tuple[str, ...]] = {
    "vqa": ("base", "caption"),
    "snli_ve": ("base", "vqa"),
}


def expert_start(task_name: str, settings) -> str:
    """``"base"`` or the expert that image expert ``task_name`` continues
    (``settings.vqa_from``, ``settings.snli_ve_from``; "base" for settings without them)."""
    if task_name not in EXPERT_STARTS:
        return "base"
    start = getattr(settings, f"{task_name}_from", "base")
    if start not in EXPERT_STARTS[task_name]:
        raise SystemExit(
            f"{task_name}_from must be one of {EXPERT_STARTS[task_name]} (got {start!r})"
        )
    return start


def image_expert_init(task_name: str, settings, base: Path, trained: Dict[str, Path]) -> Path:
    """The checkpoint the image expert ``task_name`` starts from (:func:`expert_start`): the
    base, or that expert's checkpoint in ``trained`` (task name -> checkpoint of the experts
    trained so far)."""
    start = expert_start(task_name, settings)
    if start == "base":
        return base
    if start not in trained:
        raise SystemExit(
            f"{task_name}_from={start!r} starts {task_name} from the {start} expert: train it first"
        )
    return trained[start]


def common_train_env(settings) -> Dict[str, str]:
    """The toy recipe shared by every training: unival_tiny from its own small backbones, no
    dropout / drop-path / label smoothing, trainable embeddings, at ``settings.image_size``, on
    ``settings.device`` (the run scripts' DEVICE; cpu for settings without one), with
    ``settings.train_seed`` (fairseq's --seed; 1 for settings without one)."""
    env = {
        "DEVICE": getattr(settings, "device", "cpu"),
        "ARCH": "unival_tiny",
        "IMAGE_ENCODER": "",
        "RESNET_TYPE": "",  # keep unival_tiny's own small backbone
        "FREEZE_EMBEDDINGS": "0",
        "DROPOUT": "0.0",
        "ENCODER_DROP_PATH": "0.0",
        "DECODER_DROP_PATH": "0.0",
        "LABEL_SMOOTHING": "0.0",
        "CRITERION": "ce",
        "FIXED_VALIDATION_SEED": "",
        "BATCH_SIZE": str(settings.batch_size),
        "UPDATE_FREQ": "1",
        "WARMUP_RATIO": str(settings.warmup_ratio),
        "MAX_EPOCH": "1000",
        "PATCH_IMAGE_SIZE": str(settings.image_size),
        "NUM_WORKERS": str(settings.num_workers),
        "LOG_INTERVAL": str(settings.log_interval),
        "SEED": str(getattr(settings, "train_seed", 1)),
    }
    precision = getattr(settings, "precision", "")
    if precision:  # empty: the run scripts' default (fp32 on cpu, fp16 on gpu)
        env["PRECISION"] = precision
    return env


def location_args(settings) -> List[str]:
    """Model flags that let the toy base learn where things are, for the base and every
    training that starts from it (the same architecture throughout): absolute positions added
    to the encoder's inputs (the reference's ``--entangle-position-embedding``) and sinusoidal
    starting values for the ``<bin_k>`` rows and the patch positions
    (``--sinusoidal-bin-init``, ``--sinusoidal-patch-position-init``, read only by a training
    from scratch). Off for settings without the fields."""
    switches = (
        ("absolute_positions", "--entangle-position-embedding"),
        ("sinusoidal_bins", "--sinusoidal-bin-init"),
        ("sinusoidal_patch_positions", "--sinusoidal-patch-position-init"),
    )
    return [flag for field_name, flag in switches if getattr(settings, field_name, False)]


def schedule_args(updates: int, stop_hours: float) -> List[str]:
    """A fixed number of updates (the learning rate decays to 0 over them) and a wall-clock cap."""
    return [
        f"--max-update={updates}",
        f"--total-num-update={updates}",
        f"--stop-time-hours={stop_hours:.5f}",
    ]


def pretrain_env(settings, world: Path, save_dir: Path) -> Dict[str, str]:
    """``run_scripts/pretraining/stage1.sh`` from scratch on the toy pretraining TSV.

    The main file mixes caption, QA and grounding rows (each row also yields its second
    pretraining example), so no auxiliary stream is read. ``--random-resize-max`` = P: the
    64 px scene is never enlarged and cropped (a crop would cut objects out of the captions);
    RandomAugment stays on, as in the recipe. All patches are kept (``SAMPLE_PATCH_NUM`` is
    above the 16 patches of a 64 px image).
    """
    extra = schedule_args(settings.pretrain_updates, settings.pretrain_minutes / 60) + [
        f"--random-resize-max={settings.image_size}",
        "--no-epoch-checkpoints",
        *location_args(settings),
    ]
    augment_ops = getattr(settings, "pretrain_augment_ops", "")
    if augment_ops:  # empty: the recipe's ten RandomAugment ops
        extra.append(f"--augment-ops={augment_ops}")
    env = {
        **common_train_env(settings),
        "UNIVAL_DATA": str(world),
        "DATA_DIR": str(world),
        "IMAGE_DIR": str(world),
        "TRAIN_DATA": str(world / "pretrain_train.tsv"),
        "VQA_DATA": "none",
        "GROUND_DATA": "none",
        "IMAGE_TEXT_DATA": "none",
        "VIDEO_DATA": "none",
        "INIT_CHECKPOINT": "scratch",
        "SAVE_DIR": str(save_dir),
        "LR": str(settings.pretrain_lr),
        "SAMPLE_PATCH_NUM": "1024",
        "KEEP_LAST_EPOCHS": "1",
        "BATCH_SIZE": str(settings.pretrain_batch_size),
        "EXTRA_ARGS": shlex.join(extra),
    }
    ground_every = getattr(settings, "pretrain_ground_every", 0)
    if ground_every:  # 0: only the main file's own grounding rows
        env.update(GROUND_DATA=str(grounding_stream(world)), GROUND_CNT=str(ground_every))
    return env


def prepare_pretraining(settings, world: Path) -> None:
    """Write what :func:`pretrain_env`'s command reads beyond the toy world's own files: the
    extra grounding stream when ``settings.pretrain_ground_every`` asks for one."""
    if getattr(settings, "pretrain_ground_every", 0):
        write_grounding_stream(world)


def grounding_stream(world: Path) -> Path:
    """The extra grounding stream of a grounding-heavy base (:func:`write_grounding_stream`)."""
    return world / "pretrain_ground_train.tsv"


def write_grounding_stream(world: Path) -> Path:
    """Copy the ``visual_grounding`` rows of the world's pretraining TSV (its last column is
    the row type) into :func:`grounding_stream`, which ``unify_task`` then reads as its
    grounding stream, one row every ``pretrain_ground_every`` main rows."""
    out = grounding_stream(world)
    with open(world / "pretrain_train.tsv", encoding="utf-8") as src:
        rows = [line for line in src if line.rstrip("\n").rsplit("\t", 1)[-1] == "visual_grounding"]
    if not rows:
        raise RuntimeError(f"{world / 'pretrain_train.tsv'} has no visual_grounding rows")
    out.write_text("".join(rows), encoding="utf-8")
    return out


def eval_env(task, s, world: Path, checkpoint: Path, results: Path) -> Dict[str, str]:
    """``run_scripts/<task>/eval.sh`` of a :class:`~unival.demo.tasks.DemoTask` on the toy
    world's test split, with the settings' device, batch, image size and caption beam."""
    env = {
        "UNIVAL_DATA": str(world),
        "CHECKPOINT": str(checkpoint),
        "RESULTS_DIR": str(results),
        "TEST_DATA": str(task.test_tsv(world)),
        "DEVICE": s.device,
        "BATCH_SIZE": str(s.eval_batch_size),
        "PATCH_IMAGE_SIZE": str(s.image_size),
        **task.eval_env,
    }
    if task.name in ("caption", "video_caption", "audio_caption"):
        env["BEAM"] = str(s.caption_beam)
    return env


def checkpoint_state(checkpoint: Path) -> Tuple[int, float]:
    """``(updates, training seconds)`` saved in a fairseq checkpoint.

    fairseq restores the training time from ``--restore-file`` even with ``--reset-meters`` and
    counts it against ``--stop-time-hours``, so a fine-tuning cap must add the base's seconds.
    """
    from fairseq import checkpoint_utils

    state = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint))
    seconds = (state.get("extra_state") or {}).get("previous_training_time", 0.0)
    return int(state["optimizer_history"][-1]["num_updates"]), float(seconds)


def finetune_env(
    task: DemoTask,
    s,
    world: Path,
    train_tsv: Path,
    init: Optional[Path],
    save_dir: Path,
    stop_hours: float,
) -> Dict[str, str]:
    """``run_scripts/<task>/train.sh`` from ``init`` (None: from scratch), no validation: the
    last checkpoint is the model (the learning rate has decayed to 0 by then)."""
    budget = s.experts[task.name]
    extra = schedule_args(budget.updates, stop_hours) + ["--disable-validation"]
    extra += location_args(s)
    env = {
        **common_train_env(s),
        **task.env,
        "UNIVAL_DATA": str(world),
        "TRAIN_DATA": str(train_tsv),
        "VALID_DATA": str(task.valid_tsv(world)),
        "DICT_PATH": str(world / "dict.txt"),
        "INIT_CHECKPOINT": str(init) if init else "scratch",
        "SAVE_DIR": str(save_dir),
        "LR": str(budget.lr or s.expert_lr),
    }
    if task.media == "image" and task.name != "refcoco":  # the refcoco recipe drops it already
        extra.append(NO_VIDEO_ENCODER)
    if task.name == "vqa":
        env["ANS2LABEL"] = str(world / "vqa_ans2label.pkl")
    if task.media == "video":
        env.update(
            VIDEO_ENCODER="",
            NUM_FRAMES=str(s.num_frames),
            PATCH_FRAME_SIZE=str(s.video_size),
            VIDEO_DIR=str(world),
        )
        if getattr(s, "video_num_workers", 0):
            env["NUM_WORKERS"] = str(s.video_num_workers)
        if task.name == "video_qa":
            env["ANS2LABEL"] = str(world / "video_qa_answers.txt")
    if task.media == "audio":
        env.update(
            AUDIO_ENCODER=s.audio_encoder,
            AUDIO_SAMPLE_RATE=str(s.audio_sample_rate),
            MAX_AUDIO_LEN=str(s.max_audio_len),
            MEL_BINS=str(s.mel_bins),
            AUDIO_DIR=str(world),
        )
        extra.append(NO_VIDEO_ENCODER)
    if task.media != "image" and init is not None:
        # the base has seen no video or audio: its new encoder starts from random weights on
        # purpose (whether image-text pretraining transfers is what the media stage measures)
        env["UNIVAL_ALLOW_MISSING_WEIGHTS"] = "1"
    env["EXTRA_ARGS"] = shlex.join(extra)
    return env
