"""Which settings the demo runs with: the 2-core CPU recipe, or the bigger GPU profile.

``--device auto`` (the default) picks the GPU profile when torch sees a CUDA device. The GPU
profile keeps the toy world's 64 px scenes and ``unival_tiny`` but trains on more data, with
larger batches and many more updates in bf16, trains up to three independent experts at the
same time (:mod:`unival.demo.schedule`), and is meant to finish in about 15 minutes on one
H100/H200-class GPU. :func:`render_commands` prints every training and evaluation command
a profile would run (the run scripts' ``DRY_RUN=1``) without running anything.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from unival.demo.context import RUN_SCRIPTS, demo_environment
from unival.demo.media import video_init
from unival.demo.multitask import SMOKE, Budget, MultitaskSettings
from unival.demo.recipes import eval_env, finetune_env, image_expert_init, pretrain_env
from unival.demo.tasks import AUDIO_TASK, IMAGE_TASKS, VIDEO_TASKS

DEVICES = ("auto", "cpu", "gpu", "cuda")
CHECKPOINT = "checkpoint_last.pt"

GPU = MultitaskSettings(
    device="gpu",
    precision="bf16",
    num_train=4000,
    num_valid=100,
    num_test=300,
    media_num_train=2000,
    media_num_valid=40,
    media_num_test=150,
    batch_size=64,
    pretrain_batch_size=32,  # rows (two examples each)
    # Schedules sized to what one H200 reached inside each cap with three experts side by
    # side (BENCHMARKS.md section 1, "GPU profile": base 13.4 updates/s, image experts 570-770
    # updates/min, video about 200, audio about 590), so that each learning rate decays to 0
    # by the cap instead of being cut off half way; the video chain, the media stage's
    # longest, gets 1.5 minutes per expert. The whole run, about 12 minutes plus start-up,
    # fits the 15 minutes of one lent device session in two calls (multitask, then media).
    pretrain=Budget(3100, 4.0),
    calibrate=False,
    # the profile met every aim without them (BENCHMARKS.md section 1, "GPU profile"); they
    # stay off until a GPU run with them is measured
    absolute_positions=False,
    sinusoidal_bins=False,
    sinusoidal_patch_positions=False,
    experts={
        "caption": Budget(550, 0.75),
        "vqa": Budget(550, 0.75),
        "refcoco": Budget(950, 1.25),
        "snli_ve": Budget(420, 0.75),
        "video_caption": Budget(290, 1.5, 5e-4),
        "video_qa": Budget(280, 1.5, 5e-4),
        "audio_caption": Budget(420, 0.75, 1e-3),
    },
    eval_batch_size=100,
    num_workers=4,
    # video items cost several image items to decode, and the video experts ran at a third
    # of the image experts' rate with 4 workers
    video_num_workers=8,
    log_interval=100,
    parallel_experts=3,  # a unival_tiny step leaves the GPU mostly idle
    snli_ve_from="base",  # the profile met its aims so; not measured from the VQA expert
    expert_threads=0,
)


def resolve_device(name: str) -> str:
    """``auto`` -> ``gpu`` when torch sees a CUDA device, else ``cpu``; ``cuda`` means ``gpu``."""
    if name not in DEVICES:
        raise SystemExit(f"--device must be one of {', '.join(DEVICES)} (got {name!r})")
    if name == "auto":
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    return "gpu" if name == "cuda" else name


def settings_for(
    device: str,
    smoke: bool = False,
    base_updates: Optional[int] = None,
    time_scale: float = 1.0,
    parallel_experts: Optional[int] = None,
) -> MultitaskSettings:
    """A copy of the multitask/media settings for ``device`` (cpu or gpu); ``smoke``: the
    toy-of-toy size on that device; ``time_scale``: every training's updates and wall-clock
    cap times this factor; ``base_updates``: the base's schedule (after the scaling), not
    calibrated; ``parallel_experts``: experts trained at once (None: the profile's)."""
    if smoke:
        settings = _on_device(SMOKE, device)
    else:
        settings = replace(GPU) if device == "gpu" else MultitaskSettings()
    if time_scale != 1.0:
        settings = scale_budgets(settings, time_scale)
    if base_updates is not None:
        settings.pretrain = replace(settings.pretrain, updates=base_updates)
        settings.calibrate = False
    if parallel_experts is not None:
        settings.parallel_experts = parallel_experts
    return settings


def scale_budgets(settings: MultitaskSettings, factor: float) -> MultitaskSettings:
    """A copy whose base and experts have ``factor`` times their updates (at least 1) and
    minutes: the same recipe in a shorter (or longer) run, each schedule still decaying to 0."""

    def scaled(budget: Budget) -> Budget:
        return replace(
            budget, updates=max(1, round(budget.updates * factor)), minutes=budget.minutes * factor
        )

    experts = {name: scaled(budget) for name, budget in settings.experts.items()}
    return replace(settings, pretrain=scaled(settings.pretrain), experts=experts)


def _on_device(settings: MultitaskSettings, device: str) -> MultitaskSettings:
    return replace(settings, device=device, precision="bf16" if device == "gpu" else "")


def render_commands(settings: MultitaskSettings, out: Path) -> List[Tuple[str, str]]:
    """``[(label, command)]`` of every training and evaluation of the multitask and media
    stages, as the run scripts render them with ``DRY_RUN=1``. Fine-tuning caps count from 0
    here (a real run adds the base's training time, which fairseq carries over)."""
    out = Path(out)
    world = out / "toy_world"
    base = out / "multitask" / "base" / "checkpoints" / CHECKPOINT
    jobs: List[Tuple[str, str, Dict[str, str]]] = [
        ("base", "pretraining/stage1.sh", pretrain_env(settings, world, base.parent))
    ]
    trained = {t.name: out / "multitask" / t.name / "checkpoints" / CHECKPOINT for t in IMAGE_TASKS}
    experts = [
        (t, "multitask", t.name, image_expert_init(t.name, settings, base, trained))
        for t in IMAGE_TASKS
    ]
    experts += [
        (t, "media", t.name, video_init(t, settings, base, out / "media")) for t in VIDEO_TASKS
    ]
    experts += [(AUDIO_TASK, "media", "audio_caption", base)]
    experts += [(AUDIO_TASK, "media", "audio_caption_scratch", None)]
    for task, stage, label, init in experts:
        folder = out / stage / label
        hours = settings.experts[task.name].minutes / 60
        train_tsv = folder / f"{task.prefix}_train_shuffled.tsv"
        env = finetune_env(task, settings, world, train_tsv, init, folder / "checkpoints", hours)
        checkpoint = folder / "checkpoints" / CHECKPOINT
        jobs.append((label, f"{task.script}/train.sh", env))
        jobs.append(
            (
                f"{label} eval",
                f"{task.script}/eval.sh",
                eval_env(task, settings, world, checkpoint, folder / "eval"),
            )
        )
    commands = []
    for label, script, env in jobs:
        proc = subprocess.run(
            ["bash", str(RUN_SCRIPTS / script)],
            env={**demo_environment(), **env, "DRY_RUN": "1"},
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{script} ({label}) did not render: {proc.stderr.strip()}")
        commands.append((label, proc.stdout.strip()))
    return commands
