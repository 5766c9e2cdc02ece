"""Workloads of ``bench_model.py`` (and of refbench's ``project_bench.py``): one model build,
one timed workload.

A workload name is ``train_b{B}_{P}`` (fwd+bwd, label-smoothed CE, 20 source / 20 target
tokens, B images of P px) or ``beam_b{B}_{P}`` (beam 5, 20 tokens forced with
min_len = max_len = 20, B images of P px). Weights are random; embeddings are frozen as in
the caption scripts. ``demo_step`` is one update of ``make demo``'s base stage through
fairseq's trainer, with real data loading (:func:`demo_trainer`, :func:`run_demo_steps`).
"""

import logging
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import torch

SRC_LEN = 20
TGT_LEN = 20
BEAM = 5
LABEL_SMOOTHING = 0.1
#: Dense peak TFLOP/s of known GPUs (for model FLOPs utilisation), by dtype.
GPU_PEAK_TFLOPS = {
    "H100": {"fp32": 67.0, "bf16": 989.0, "fp16": 989.0},
    "H200": {"fp32": 67.0, "bf16": 989.0, "fp16": 989.0},
    "A100": {"fp32": 19.5, "bf16": 312.0, "fp16": 312.0},
}
#: The research code's caption stage-1 regularisation (run_scripts/caption/unival_caption_stage_1.sh
#: of the original code): the model does the same work as the reference only with these on.
STAGE1_DROPOUT = {"dropout": 0.1, "encoder_drop_path_rate": 0.1, "decoder_drop_path_rate": 0.1}
#: Untimed calls before the timed ones, as the reference harness does: the first train steps
#: still allocate (autograd buffers, allocator growth), one generation call is enough.
WARMUP = {"train": 2, "beam": 1}
_NAME = re.compile(r"^(train|beam)_b(\d+)_(\d+)$")


@dataclass
class Workload:
    kind: str  # "train" or "beam"
    batch: int
    image_size: int

    @classmethod
    def parse(cls, name: str) -> "Workload":
        match = _NAME.match(name)
        if not match:
            raise ValueError(f"bad workload {name!r}: expected train_bB_P or beam_bB_P")
        return cls(match.group(1), int(match.group(2)), int(match.group(3)))

    def tokens(self) -> int:
        """Tokens processed per call: source + target per row (train), generated (beam)."""
        if self.kind == "train":
            return self.batch * (SRC_LEN + TGT_LEN)
        return self.batch * TGT_LEN


def build(arch: str, vocab: int, device: torch.device, channels_last: bool, **overrides):
    """``arch`` with random weights, embeddings frozen; on ``device``."""
    from unival.models import build_model

    torch.manual_seed(0)
    model = build_model(
        arch, vocab, freeze_encoder_embedding=True, freeze_decoder_embedding=True, **overrides
    )
    model = model.to(device)
    if channels_last:
        model.encoder.embed_images.to(memory_format=torch.channels_last)
    return model


def make_batch(model, work: Workload, device: torch.device, channels_last: bool) -> Dict:
    """Random net_input and target for ``work``."""
    dictionary = model.decoder.dictionary
    vocab = len(dictionary)
    gen = torch.Generator().manual_seed(1)
    src = torch.randint(4, vocab, (work.batch, SRC_LEN), generator=gen)
    target = torch.randint(4, vocab, (work.batch, TGT_LEN), generator=gen)
    prev = torch.cat([torch.full((work.batch, 1), dictionary.bos()), target[:, :-1]], dim=1)
    images = torch.randn(work.batch, 3, work.image_size, work.image_size, generator=gen)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    net_input = {
        "src_tokens": src.to(device),
        "src_lengths": torch.full((work.batch,), SRC_LEN, device=device),
        "patch_images": images.to(device),
        "patch_masks": torch.ones(work.batch, dtype=torch.bool, device=device),
    }
    return {
        "net_input": net_input,
        "prev_output_tokens": prev.to(device),
        "target": target.to(device),
    }


def train_step_fn(model, batch: Dict, autocast: Optional[torch.dtype]) -> Callable[[], None]:
    """One forward + backward of label-smoothed CE (gradients cleared first)."""
    from unival.criterions import label_smoothed_nll_loss

    model.train()
    device_type = batch["target"].device.type

    def step():
        model.zero_grad(set_to_none=True)
        with torch.autocast(
            device_type, dtype=autocast or torch.float32, enabled=autocast is not None
        ):
            logits, _ = model(**batch["net_input"], prev_output_tokens=batch["prev_output_tokens"])
        lprobs = torch.log_softmax(logits.float(), dim=-1).view(-1, logits.size(-1))
        loss, _ = label_smoothed_nll_loss(lprobs, batch["target"].view(-1), LABEL_SMOOTHING)
        loss.sum().backward()

    return step


def beam_fn(model, batch: Dict, autocast: Optional[torch.dtype]) -> Callable[[], None]:
    """Beam 5 with exactly TGT_LEN tokens per hypothesis."""
    from unival.generation.sequence_generator import UnivalSequenceGenerator

    model.eval()
    if autocast is None:  # as the predictor and `unival eval` do on the CPU (fast path only)
        model.pack_decoder_for_cpu_inference_()
    generator = UnivalSequenceGenerator(
        [model],
        model.decoder.dictionary,
        beam_size=BEAM,
        max_len_a=0,
        max_len_b=TGT_LEN,
        min_len=TGT_LEN,
    )
    sample = {"net_input": batch["net_input"]}
    device_type = batch["target"].device.type

    def step():
        with torch.autocast(
            device_type, dtype=autocast or torch.float32, enabled=autocast is not None
        ):
            hyps = generator.generate([model], sample)
        lengths = {len(h[0]["tokens"]) for h in hyps}
        if lengths != {TGT_LEN + 1}:  # 20 tokens + EOS
            raise RuntimeError(f"beam search did not force {TGT_LEN} tokens: {lengths}")

    return step


def count_flops(fn: Callable[[], None]) -> float:
    """FLOPs of one call (torch's FlopCounterMode: matmuls, convolutions, attention)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return float(counter.get_total_flops())


def profile_calls(fn: Callable[[], None], calls: int, device: torch.device, rows: int = 40):
    """torch.profiler over ``calls`` calls. Returns the op table (sorted by self GPU time on
    CUDA, self CPU time on the CPU) and its top ``rows`` ops as dicts: op, calls and self
    milliseconds per profiled call (``self_ms``; ``cpu_self_ms`` beside it on CUDA)."""
    from torch.profiler import ProfilerActivity, profile

    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        for _ in range(calls):
            fn()
        if cuda:
            torch.cuda.synchronize(device)
    key = "self_device_time_total" if cuda else "self_cpu_time_total"
    averages = prof.key_averages()
    top = sorted(averages, key=lambda e: -getattr(e, key))[:rows]
    ops = []
    for e in top:
        op = {"op": e.key, "calls": e.count / calls, "self_ms": getattr(e, key) / calls / 1e3}
        if cuda:
            op["cpu_self_ms"] = e.self_cpu_time_total / calls / 1e3
        ops.append(op)
    table = averages.table(sort_by=key, row_limit=rows, max_name_column_width=60)
    return table, ops


def time_calls(fn: Callable[[], None], repeats: int, warmup: int, device: torch.device):
    """Seconds of ``repeats`` calls after ``warmup`` untimed ones."""

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def summarise(times, work: Workload, flops: float, device: torch.device, dtype: str) -> Dict:
    """median/min/max seconds, tokens/s, achieved TFLOP/s and (GPU) MFU."""
    median = statistics.median(times)
    result = {
        "median_s": median,
        "min_s": min(times),
        "max_s": max(times),
        "tokens_per_s": work.tokens() / median,
        "flops": flops,
        "tflops_per_s": flops / median / 1e12,
    }
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak = next((v[dtype] for k, v in GPU_PEAK_TFLOPS.items() if k in name), None)
        result["gpu"] = name
        result["mfu"] = result["tflops_per_s"] / peak if peak else None
        result["peak_gpu_mem_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
    return result


# --------------------------------------------------------------- the demo's training update
DEMO_STEP = "demo_step"
#: Pretraining rows the toy world writes per training image (369 rows for 40 images).
_ROWS_PER_IMAGE = 9
#: Training images of the demo step's world: about 70 batches. The size is fixed unless a run
#: needs more updates, because the data (and so the loss curve) changes with it.
DEMO_WORLD_IMAGES = 64


def demo_world(out: Path, updates: int, seed: int = 0) -> Path:
    """A toy world at the demo's image size with at least ``updates`` base-stage batches in
    one epoch (so no epoch ends, and no checkpoint is saved, while timing). Image-only: the
    demo's world also has video/audio texts in ``dict.txt`` (a few more embedding rows)."""
    from unival.demo.multitask import MultitaskSettings
    from unival.toy_world.build import ToyWorldConfig, build_toy_world

    s = MultitaskSettings()
    images = max(DEMO_WORLD_IMAGES, updates * s.pretrain_batch_size // _ROWS_PER_IMAGE + 8)
    config = ToyWorldConfig(
        seed=seed, num_train=images, num_valid=2, num_test=2, image_size=s.image_size
    )
    build_toy_world(str(out), config)
    return out


def demo_train_argv(world: Path, save_dir: Path) -> List[str]:
    """``fairseq-train``'s arguments of the demo's base stage, as its run script renders them
    (``run_scripts/pretraining/stage1.sh`` with ``DRY_RUN=1`` and the demo's environment)."""
    from unival.demo.context import RUN_SCRIPTS, demo_environment
    from unival.demo.multitask import MultitaskSettings
    from unival.demo.recipes import prepare_pretraining, pretrain_env

    settings = MultitaskSettings()
    prepare_pretraining(settings, world)  # the base's extra grounding stream, as make demo has
    env = {
        **demo_environment(),
        **pretrain_env(settings, world, save_dir),
        "DRY_RUN": "1",
    }
    script = RUN_SCRIPTS / "pretraining" / "stage1.sh"
    proc = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{script} DRY_RUN failed: {proc.stderr[-2000:]}")
    return shlex.split(proc.stdout.strip().splitlines()[-1])[1:]  # without the program


@dataclass
class DemoTrainer:
    cfg: object  # fairseq's DictConfig
    trainer: object  # fairseq.trainer.Trainer
    epoch_itr: object  # fairseq's EpochBatchIterator
    argv: List[str] = field(default_factory=list)


def fairseq_train_logging() -> None:
    """The root logger as ``fairseq-train`` sets it up before it imports fairseq (INFO, its
    format, stdout), replacing whatever the imports so far left there."""
    logging.basicConfig(
        format="%(asctime)s | %(levelname)s | %(name)s | %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        level=os.environ.get("LOGLEVEL", "INFO").upper(),
        stream=sys.stdout,
        force=True,
    )


def demo_trainer(world: Path, save_dir: Path, extra_argv: Sequence[str] = ()) -> DemoTrainer:
    """Task, model, criterion, optimizer and train iterator set up as ``fairseq_cli.train.main``
    does (same seeding, ``checkpoint_utils.load_checkpoint`` with an empty save dir, its
    logging: :func:`fairseq_train_logging`); ``extra_argv`` is appended to the stage's
    ``fairseq-train`` arguments."""
    import numpy as np
    from fairseq import checkpoint_utils, options, tasks, utils
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq.logging import metrics
    from fairseq.trainer import Trainer

    from unival import compat

    fairseq_train_logging()
    argv = demo_train_argv(world, save_dir) + list(extra_argv)
    args = options.parse_args_and_arch(options.get_training_parser(), argv)
    cfg = convert_namespace_to_omegaconf(args)
    compat.keep_bf16_off_tpu(cfg)  # as fairseq-train's call_main does
    metrics.reset()
    np.random.seed(cfg.common.seed)
    utils.set_torch_seed(cfg.common.seed)
    checkpoint_utils.verify_checkpoint_directory(cfg.checkpoint.save_dir)
    task = tasks.setup_task(cfg.task)
    model = task.build_model(cfg.model)
    criterion = task.build_criterion(cfg.criterion)
    trainer = Trainer(cfg, task, model, criterion)
    _, epoch_itr = checkpoint_utils.load_checkpoint(cfg.checkpoint, trainer)
    return DemoTrainer(cfg, trainer, epoch_itr, argv)


@dataclass
class DemoRun:
    times: List[float]  # wall seconds of each timed update (batch wait included)
    cpu: List[float]  # this process's CPU seconds of each timed update (not the loader's)
    losses: List[float]  # the criterion's loss (base 2) of every update, warm-ups included


def run_demo_steps(demo: DemoTrainer, warmup: int, repeats: int, on_update=None) -> DemoRun:
    """``warmup`` + ``repeats`` updates of ``fairseq_cli.train.train``'s loop: next batch from
    the grouped iterator (DataLoader workers as configured), ``trainer.train_step``, the
    log-interval bookkeeping and the stop/save check. ``on_update()`` runs after each."""
    from fairseq.data import iterators
    from fairseq.logging import metrics, progress_bar
    from fairseq_cli.train import get_training_stats, validate_and_save

    cfg, trainer, epoch_itr = demo.cfg, demo.trainer, demo.epoch_itr
    itr = epoch_itr.next_epoch_itr(
        fix_batches_to_gpus=cfg.distributed_training.fix_batches_to_gpus,
        shuffle=(epoch_itr.next_epoch_idx > cfg.dataset.curriculum),
    )
    itr = iterators.GroupedIterator(
        itr, cfg.optimization.update_freq[0], cfg.optimization.skip_remainder_batch
    )
    progress = progress_bar.progress_bar(
        itr, log_format=cfg.common.log_format, log_interval=cfg.common.log_interval,
        epoch=epoch_itr.epoch, default_log_format="simple",
    )  # fmt: skip
    trainer.begin_epoch(epoch_itr.epoch)
    batches = iter(progress)
    run = DemoRun([], [], [])
    with metrics.aggregate("train"):
        for i in range(warmup + repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            with torch.autograd.profiler.record_function("data"):
                samples = next(batches, None)
            if samples is None:
                raise RuntimeError(f"the toy world ran out of batches after {i} updates")
            # a fresh aggregator sees this update's loss only, unrounded (the log rounds to 3)
            with metrics.aggregate("train_inner"), metrics.aggregate() as this_update:
                trainer.train_step(samples)
            with torch.autograd.profiler.record_function("bookkeeping"):
                updates = trainer.get_num_updates()
                if updates % cfg.common.log_interval == 0:
                    stats = get_training_stats(metrics.get_smoothed_values("train_inner"))
                    progress.log(stats, tag="train_inner", step=updates)
                    metrics.reset_meters("train_inner")
                validate_and_save(cfg, trainer, trainer.task, epoch_itr, ["valid"], False)
            if i >= warmup:
                run.times.append(time.perf_counter() - wall)
                run.cpu.append(time.process_time() - cpu)
            run.losses.append(float(this_update["loss"].avg))
            if on_update is not None:
                on_update()
    return run
