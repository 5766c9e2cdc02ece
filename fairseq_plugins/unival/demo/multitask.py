"""``make demo``'s multitask stage: the UnIVAL recipe in miniature.

Writes the toy world (images, videos, audio), pretrains ``unival_tiny`` from scratch with
``run_scripts/pretraining/stage1.sh`` (``unify_task`` over caption, QA and grounding rows),
then fine-tunes one expert per image task from that base (caption, VQA, RefCOCO, SNLI-VE run
scripts) and scores each on the test split with its ``eval.sh``, beside the task's blind
baseline, the floor (2x the baseline) and the aim, through the
:class:`~unival.demo.runner.StageRunner` it shares with the media stage.

Every training is the real ``fairseq-train`` command of the run script with a fixed number of
updates (the learning rate decays to 0 over them) and a wall-clock cap, so a busy machine
still finishes; the last checkpoint is evaluated.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

from unival.demo.calibrate import calibrate
from unival.demo.context import RUN_SCRIPTS, TOY_WORLD_SCRIPT, DemoContext
from unival.demo.recipes import (
    checkpoint_state,
    expert_start,
    image_expert_init,
    prepare_pretraining,
    pretrain_env,
)
from unival.demo.runner import StageRunner
from unival.demo.tasks import (
    IMAGE_TASKS,
    baseline_lines,
    format_task_table,
)

logger = logging.getLogger("unival.demo")


@dataclass(frozen=True)
class Budget:
    """A training budget: ``updates`` (the schedule length), a wall-clock cap and the peak
    learning rate (None: the stage's default)."""

    updates: int
    minutes: float
    lr: Optional[float] = None


@dataclass
class MultitaskSettings:
    """Toy-world size and recipes of the two stages, tuned for 2 CPU cores."""

    num_train: int = 1500  # training images (about 9 pretraining rows each)
    num_valid: int = 40
    num_test: int = 100
    image_size: int = 64
    media_num_train: int = 1000  # training videos and audio clips
    media_num_valid: int = 20
    media_num_test: int = 60
    video_size: int = 32  # frames are centre-cropped, not resized: write them small
    num_frames: int = 4
    # audio at 8 kHz (the toy sounds stay below 2.1 kHz), 32 mel bins: a quarter of the
    # CNN6 cost of 16 kHz / 64 bins, which left ~30 updates in the audio budget
    audio_sample_rate: int = 8000
    max_audio_len: int = 16000  # 2 s, the longest toy clip
    audio_encoder: str = "pann_cnn6"
    mel_bins: int = 32
    batch_size: int = 16  # rows per fine-tuning batch
    pretrain_batch_size: int = 8  # rows per pretraining batch (two examples each)
    warmup_ratio: float = 0.06
    pretrain_lr: float = 5e-4
    # RandomAugment's ops on the base's caption/QA images (unify_task --augment-ops); empty:
    # the recipe's ten
    pretrain_augment_ops: str = ""
    # one extra grounding row (from the main file's) every this many main rows; 0: none. At
    # equal updates it lifted the caption expert from 3.10 to 5.66 CIDEr-D (BENCHMARKS.md 1)
    pretrain_ground_every: int = 2
    pretrain: Budget = Budget(1300, 6.0)
    # positions added to the encoder's inputs and sinusoidal <bin_k> rows at the start
    # (unival.demo.recipes.location_args): with them a RefCOCO expert from the base reaches
    # 0.47-0.55 Acc@0.5 in 800-1,200 updates, against 0.07-0.16 without. Sinusoidal patch
    # positions on top grounded about as well but doubled the caption expert's hallucinated
    # objects (BENCHMARKS.md section 1, "Grounding learns")
    absolute_positions: bool = True
    sinusoidal_bins: bool = True
    sinusoidal_patch_positions: bool = False
    # fit the base's schedule to this machine's speed (unival.demo.calibrate); its cap stays
    calibrate: bool = True
    expert_lr: float = 2e-4  # fine-tuning learning rate unless the budget names one
    experts: Dict[str, Budget] = field(
        default_factory=lambda: {
            # caps: the time at one thread beside another expert (unival.demo.schedule), plus
            # about a third
            "caption": Budget(500, 3.0),
            # 1,600 rather than 800 updates: 0.741 against 0.581 from one caption expert; the
            # answers to "is there ...?" and "how many ...?" start to depend on the image
            # between 1,200 and 1,600; 2,000, in the time the training speed-ups saved: 0.766
            # against 0.734 from one caption expert, and SNLI-VE from it 0.827 against 0.813
            # (BENCHMARKS.md section 1)
            "vqa": Budget(2000, 9.0),
            # trains beside the caption -> VQA -> SNLI-VE chain, and the video experts follow
            # it on its worker: 1,400 updates (0.675 / 0.617 on two toy worlds, against 0.680 /
            # 0.670 at 1,800; BENCHMARKS.md section 1)
            "refcoco": Budget(1400, 6.5, 5e-4),
            # from the VQA expert (snli_ve_from) at half the fine-tuning rate, which keeps what
            # the VQA expert learned: 0.813 / 0.820 against 0.747 / 0.797 at 2e-4 from two VQA
            # experts, 0.72-0.75 from the base; 1,200 rather than 800 updates: 0.830 / 0.797
            # against 0.820 / 0.777 on two toy worlds (BENCHMARKS.md section 1)
            "snli_ve": Budget(1200, 6.0, 1e-4),
            # the video and audio encoders start from their initial weights: higher learning rates
            # (1e-3 made video captioning worse, 5e-4 made audio captioning learn half as fast)
            # 400 updates keep the whole run under 25 minutes beside the longer SNLI-VE and
            # audio experts (4.349 / 3.933 on two toy worlds, 4.971 / 3.563 at 500; floors
            # 1.783 / 1.659)
            "video_caption": Budget(400, 3.0, 5e-4),
            # video QA continues the video-captioning expert (trained encoder): the fine-tuning
            # rate, twice the updates (0.56-0.66 against 0.52-0.57 for 250 at 5e-4 from the same
            # three experts, BENCHMARKS.md section 1)
            "video_qa": Budget(500, 3.5),
            # 450 rather than 350 updates: 3.457 against 2.777 on the second toy world, whose
            # floor is 2.821 (2.284 against 2.547 on the demo's, floor 1.776)
            "audio_caption": Budget(450, 3.0, 1e-3),
        }
    )
    # video QA starts from the video-captioning expert ("video_caption"), whose video encoder
    # has learned colours and shapes, or from the base ("base"), which has seen no video: at
    # 150 updates 0.48 against 0.31 (BENCHMARKS.md section 1)
    video_qa_from: str = "video_caption"
    # VQA starts from the caption expert ("caption"), which has learned to name each shape
    # with its colour, or from the base ("base"): 0.586 against 0.46-0.52 at 250 updates,
    # 0.602 against 0.477 at 500 (BENCHMARKS.md section 1)
    vqa_from: str = "caption"
    # SNLI-VE starts from the VQA expert ("vqa"), which has learned to check whether a named
    # shape is in the scene, or from the base ("base"): from the base every SNLI-VE expert
    # called all "there is a <colour> <shape>" hypotheses true (BENCHMARKS.md section 1)
    snli_ve_from: str = "vqa"
    device: str = "cpu"  # the run scripts' DEVICE (cpu or gpu)
    precision: str = ""  # the run scripts' PRECISION; empty: their default for the device
    train_seed: int = 1  # fairseq's --seed: initial weights and the draws of every training
    caption_beam: int = 3
    eval_batch_size: int = 25
    # image and audio batches load in the training process: on 2 cores a loader worker has
    # no core of its own, and handing its batches over (shared memory, about 1,500 page
    # faults a base batch) cost more than the loading (base update 1.02-1.12x, image experts
    # side by side 1.04-1.08x faster without; audio the same either way; BENCHMARKS.md 6f)
    num_workers: int = 0
    # loader workers of the video experts (0: num_workers): a video item costs several times
    # an image item to decode (a video QA update 1.12x faster with one worker)
    video_num_workers: int = 1
    log_interval: int = 50
    # experts trained at the same time (unival.demo.schedule); 1: one after the other. Two
    # unival_tiny trainings of one OpenMP thread each make 1.47x the updates per second of one
    # training on both cores (4.0 + 4.0 against 5.4 for VQA, BENCHMARKS.md section 1)
    parallel_experts: int = 2
    # OpenMP threads of each expert's training and evaluation while experts train side by
    # side; 0: the environment's (the demo sets 2)
    expert_threads: int = 1

    # what unival.demo.merge.steps.pretrain_env reads (the merge demo's base recipe)
    @property
    def pretrain_updates(self) -> int:
        return self.pretrain.updates

    @property
    def pretrain_minutes(self) -> float:
        return self.pretrain.minutes


def build_world(ctx: DemoContext, s: MultitaskSettings, world: Path, log: Path) -> None:
    """The seeded toy world with media (``data_utils/toy_world.py --with-media``)."""
    shutil.rmtree(world, ignore_errors=True)
    logger.info("writing the toy world (images, videos, audio) to %s", world)
    ctx.run(
        [
            sys.executable,
            str(TOY_WORLD_SCRIPT),
            "--out",
            str(world),
            "--seed",
            str(ctx.seed),
            "--num-train",
            str(s.num_train),
            "--num-valid",
            str(s.num_valid),
            "--num-test",
            str(s.num_test),
            "--image-size",
            str(s.image_size),
            "--with-media",
            "--media-num-train",
            str(s.media_num_train),
            "--media-num-valid",
            str(s.media_num_valid),
            "--media-num-test",
            str(s.media_num_test),
            "--video-size",
            str(s.video_size),
            "--num-frames",
            "16",
        ],
        log,
    )


class MultitaskStage:
    """Toy world -> multitask base (``unify_task``) -> one expert per image task -> test scores."""

    name = "multitask"
    has_task_table = True

    def __init__(self, settings: Optional[MultitaskSettings] = None):
        self.settings = settings or MultitaskSettings()

    def run(self, ctx: DemoContext) -> Dict:
        s = self.settings
        world, work = ctx.out / "toy_world", ctx.out / self.name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        runner = StageRunner(ctx, s, world, work)
        started = time.monotonic()
        build_world(ctx, s, world, runner.train_log)
        runner.seconds["toy_world"] = round(time.monotonic() - started, 1)
        calibration = None
        if s.calibrate:
            started = time.monotonic()
            calibration = calibrate(ctx, s, world, work)
            runner.seconds["speed_probe"] = round(time.monotonic() - started, 1)

        started = time.monotonic()
        base = self.train_base(ctx, runner)
        runner.seconds["base"] = round(time.monotonic() - started, 1)
        ctx.world, ctx.base = world, base  # the media stage starts from them
        ctx.device, ctx.image_size = s.device, s.image_size  # the probes evaluate the same way

        results, ctx.experts = self.train_experts(runner, base, IMAGE_TASKS)
        self.results = results
        self.base_updates = checkpoint_state(base)[0]
        return {
            "tasks": results,
            "base_updates": self.base_updates,
            "calibration": calibration,
            "seconds": runner.seconds,
        }

    def train_base(self, ctx: DemoContext, runner: "StageRunner") -> Path:
        """Pretrain the base with ``stage1.sh`` into ``<work>/base``; its last checkpoint."""
        s, save_dir = self.settings, runner.work / "base" / "checkpoints"
        logger.info(
            "multitask: pretraining the base (unify_task, %d updates, cap %.1f min; log %s)",
            s.pretrain.updates,
            s.pretrain.minutes,
            runner.train_log,
        )
        prepare_pretraining(s, runner.world)
        ctx.run(
            ["bash", str(RUN_SCRIPTS / "pretraining" / "stage1.sh")],
            runner.train_log,
            pretrain_env(s, runner.world, save_dir),
        )
        return save_dir / "checkpoint_last.pt"

    @staticmethod
    def train_experts(runner: "StageRunner", base: Path, tasks) -> tuple:
        """Fine-tune and score one expert per task from ``base`` (VQA: see
        :func:`image_expert_init`), ``parallel_experts`` at a time: (results, checkpoints),
        each keyed by task name in the order of ``tasks``."""
        results, experts = {}, {}
        by_name = {task.name: task for task in tasks}

        def train(name: str) -> None:
            task = by_name[name]
            init = image_expert_init(name, runner.s, base, experts)
            experts[name] = runner.finetune(task, init, name)
            results[name] = runner.evaluate(task, experts[name], name)
            logger.info(
                "multitask: %s %s %.3f (baseline %.3f)",
                name,
                task.metric,
                results[name]["score"],
                results[name]["baseline_score"],
            )

        starts = {name: expert_start(name, runner.s) for name in by_name}
        after = {name: start for name, start in starts.items() if start in by_name}
        runner.run_experts(list(by_name), after, train, queued=runner.ctx.experts_queued)
        return {n: results[n] for n in by_name}, {n: experts[n] for n in by_name}

    def describe(self) -> str:
        lines = format_task_table(
            f"multitask (base: {self.base_updates} unify_task updates, then one expert per task)",
            self.results,
        )
        return "\n".join(lines + baseline_lines(self.results))


SMOKE = MultitaskSettings(
    num_train=16,
    num_valid=3,
    num_test=4,
    media_num_train=8,
    media_num_valid=2,
    media_num_test=3,
    batch_size=4,
    pretrain_batch_size=4,
    pretrain=Budget(3, 2.0),
    calibrate=False,
    caption_beam=2,
    eval_batch_size=8,
    num_workers=0,
    log_interval=1,
    experts={
        name: Budget(2, 1.0)
        for name in (
            "caption",
            "vqa",
            "refcoco",
            "snli_ve",
            "video_caption",
            "video_qa",
            "audio_caption",
        )
    },
)
