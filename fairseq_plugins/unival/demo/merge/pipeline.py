"""``make demo-merge``: model merging on the toy world, on CPU, in about 20 minutes.

``unival demo-merge --out outputs/demo_merge [--smoke]`` (``python -m unival.demo.merge``):

1. writes the seeded toy world (64 px) under ``OUT/toy_world`` and the validation subsets
   (first ``eval_rows`` rows of each task's valid TSV) under ``OUT/toy_world/merge_eval``;
2. pretrains ``unival_tiny`` from scratch on the toy pretraining TSV (caption, QA and
   grounding rows) with ``run_scripts/pretraining/stage1.sh`` (``unify_task``): the base;
3. fine-tunes three experts from the base with ``run_scripts/{caption,vqa,refcoco}/train.sh``
   (``--restore-file`` base, optimizer / data loader / meters reset);
4. evaluates each expert on its own task, then runs ``unival merge sweep`` for every pair of
   experts over ``lambdas`` (evaluated on both tasks) and the task-arithmetic and TIES merges
   of all three experts relative to the base over ``scales`` (evaluated on every task; the
   BatchNorm running statistics are copied from the base, see
   :data:`unival.demo.merge.steps.BN_STATISTICS`);
5. writes ``OUT/report.json`` (:mod:`unival.demo.merge.report`), the sweep CSVs and PNGs
   under ``OUT/sweeps/``, and prints a table and the total time.

Training runs as subprocesses (logs in ``OUT/train.log``); the toy world, evaluations and
sweeps run in this process with the same code as ``unival toy-world``, ``unival eval`` and
``unival merge sweep`` (their logs in ``OUT/merge.log``). ``--smoke`` shrinks every size and
update count (a run of about a minute that checks the pipeline, not the numbers).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shlex
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

from unival.demo.context import (
    RUN_SCRIPTS,
    DemoContext,
    demo_environment,
    dump_json,
    require_checkout,
    shuffle_rows,
    write_head,
)
from unival.demo.merge.report import build_report
from unival.demo.merge.steps import (
    BN_STATISTICS,
    EXPERTS,
    eval_options,
    expert_env,
    pair_sweep_argv,
    task_vector_sweep_argv,
)
from unival.demo.recipes import checkpoint_state, pretrain_env
from unival.merging.parser import build_parser as build_merge_parser
from unival.merging.plot import read_csv
from unival.merging.runners import MERGE_ERRORS
from unival.merging.runners import RUNNERS as MERGE_RUNNERS
from unival.merging.sweep_eval import Evaluation, run_evaluation
from unival.toy_world.build import ToyWorldConfig, build_toy_world

logger = logging.getLogger("unival.demo.merge")


@dataclass(frozen=True)
class MergeDemoSettings:
    """Sizes and recipes of the demo (defaults: the full run on 2 CPU cores)."""

    num_train: int = 1500  # toy-world training images (about 9 pretraining rows each)
    num_valid: int = 60  # validation images
    image_size: int = 64
    eval_rows: int = 100  # rows of each validation subset
    batch_size: int = 16  # rows per fine-tuning batch
    pretrain_batch_size: int = 8  # rows per pretraining batch (two examples each)
    warmup_ratio: float = 0.06
    pretrain_updates: int = 1400  # about 3.3 updates/s on 2 idle cores
    pretrain_lr: float = 5e-4
    pretrain_minutes: float = 8.0  # wall-clock cap of the pretraining
    expert_updates: int = 600
    expert_lr: float = 2e-4
    expert_minutes: float = 3.5  # wall-clock cap of each fine-tuning
    eval_batch_size: int = 25
    caption_beam: int = 3
    lambdas: Tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    ta_scales: Tuple[float, ...] = (0.0, 1 / 3, 0.5, 1.0)  # 0: the base; 1/3: the experts' mean
    ties_scales: Tuple[float, ...] = (0.5, 1.0)
    ties_density: float = 0.2
    num_workers: int = 1
    log_interval: int = 50


SMOKE = MergeDemoSettings(
    num_train=16,
    num_valid=3,
    eval_rows=6,
    batch_size=4,
    pretrain_batch_size=4,
    pretrain_updates=4,
    pretrain_minutes=2.0,
    expert_updates=3,
    expert_minutes=1.0,
    eval_batch_size=8,
    caption_beam=2,
    lambdas=(0.0, 0.5, 1.0),
    ta_scales=(0.0, 1.0),
    ties_scales=(1.0,),
    num_workers=0,
    log_interval=1,
)


@contextlib.contextmanager
def logs_to(path: Path):
    """Send this process's logging, stdout and stderr to ``path`` (appended) for the block."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    with open(path, "a", encoding="utf-8") as log:
        handler = logging.StreamHandler(log)
        handler.setFormatter(
            logging.Formatter("%(asctime)s | %(levelname)s | %(name)s | %(message)s")
        )
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield
        finally:
            root.handlers[:] = saved_handlers
            root.setLevel(saved_level)


class MergeDemo:
    """The pipeline of the module docstring; :meth:`run` returns the report."""

    def __init__(self, out: Path, settings: MergeDemoSettings, seed: int = 0):
        self.s, self.out = settings, out
        self.ctx = DemoContext(out=out, seed=seed, env=demo_environment())
        self.world = out / "toy_world"
        self.train_log, self.merge_log = out / "train.log", out / "merge.log"
        self.seconds: Dict = {}
        self.eval_sizes: Dict[str, int] = {}

    def timed(self, key: str, started: float) -> None:
        self.seconds[key] = round(time.monotonic() - started, 1)

    def run(self) -> Dict:
        require_checkout()
        started = time.monotonic()
        for path in (self.world, self.out / "pretrain", self.out / "experts", self.out / "sweeps"):
            shutil.rmtree(path, ignore_errors=True)  # stale checkpoints would make fairseq resume
        for log in (self.train_log, self.merge_log):
            log.unlink(missing_ok=True)
        step = time.monotonic()
        eval_data = self.build_world()
        self.timed("toy_world", step)
        step = time.monotonic()
        base, base_seconds = self.pretrain()
        self.timed("pretrain", step)
        checkpoints = {e.name: self.finetune(e, base, base_seconds) for e in EXPERTS}
        step = time.monotonic()
        options = {
            e.name: eval_options(e, self.s, eval_data[e.name], self.ctx.env) for e in EXPERTS
        }
        own = self.evaluate_experts(checkpoints, eval_data, options)
        pairs, pair_rows, vector_files, vector_rows = self.sweep(
            base, checkpoints, eval_data, options
        )
        self.timed("evaluation_and_sweeps", step)
        self.seconds["total"] = round(time.monotonic() - started, 1)
        settings = {
            **dataclasses.asdict(self.s),
            "eval_sizes": self.eval_sizes,
            "updates": {
                "base": checkpoint_state(base)[0],
                **{n: checkpoint_state(c)[0] for n, c in checkpoints.items()},
            },
        }
        report = build_report(
            settings,
            {e.task: e.metric for e in EXPERTS},
            own,
            {e.name: e.task for e in EXPERTS},
            pairs,
            pair_rows,
            vector_rows,
            vector_files,
            self.seconds,
        )
        dump_json(self.out / "report.json", report)
        return report

    def build_world(self) -> Dict[str, Path]:
        """The toy world and the validation subsets ``{expert: TSV}``."""

        s = self.s
        logger.info("writing the toy world (%d training images) to %s", s.num_train, self.world)
        with logs_to(self.merge_log):
            build_toy_world(
                self.world,
                ToyWorldConfig(
                    seed=self.ctx.seed,
                    num_train=s.num_train,
                    num_valid=s.num_valid,
                    num_test=1,
                    image_size=s.image_size,
                ),
            )
        subsets = self.world / "merge_eval"
        subsets.mkdir()
        eval_data = {}
        for expert in EXPERTS:
            eval_data[expert.name] = subsets / expert.valid_tsv(self.world).name
            self.eval_sizes[expert.task] = write_head(
                expert.valid_tsv(self.world), eval_data[expert.name], s.eval_rows
            )
        return eval_data

    def pretrain(self) -> Tuple[Path, float]:
        """``stage1.sh`` from scratch; returns the base checkpoint and its training seconds."""
        save_dir = self.out / "pretrain" / "checkpoints"
        logger.info(
            "pretraining the base (unify_task, %d updates, cap %.1f min; log: %s)",
            self.s.pretrain_updates,
            self.s.pretrain_minutes,
            self.train_log,
        )
        self.ctx.run(
            ["bash", str(RUN_SCRIPTS / "pretraining" / "stage1.sh")],
            self.train_log,
            pretrain_env(self.s, self.world, save_dir),
        )
        base = save_dir / "checkpoint_last.pt"
        updates, seconds = checkpoint_state(base)
        logger.info("base: %d updates in %.0f s of training", updates, seconds)
        return base, seconds

    def finetune(self, expert, base: Path, base_seconds: float) -> Path:
        """``run_scripts/{expert}/train.sh`` from the base; returns the expert checkpoint."""
        s, started = self.s, time.monotonic()
        work = self.out / "experts" / expert.name
        work.mkdir(parents=True)
        train_tsv = (
            work / f"{expert.prefix}_train_shuffled.tsv"
        )  # the world lists an image's rows together
        shuffle_rows(expert.train_tsv(self.world), train_tsv, seed=self.ctx.seed)
        stop_hours = (base_seconds + 60 * s.expert_minutes) / 3600
        logger.info(
            "fine-tuning the %s expert (%d updates, cap %.1f min)",
            expert.name,
            s.expert_updates,
            s.expert_minutes,
        )
        env = expert_env(expert, s, self.world, train_tsv, base, work / "checkpoints", stop_hours)
        self.ctx.run(["bash", str(RUN_SCRIPTS / expert.name / "train.sh")], self.train_log, env)
        self.timed(f"expert_{expert.name}", started)
        return work / "checkpoints" / "checkpoint_last.pt"

    def evaluate_experts(self, checkpoints, eval_data, options) -> Dict[str, float]:
        """Each expert on its own task with its eval.sh options: ``{task: score}``."""

        own = {}
        for expert in EXPERTS:
            evaluation = Evaluation(
                expert.task,
                expert.task,
                str(eval_data[expert.name]),
                options[expert.name],
                expert.metric,
            )
            results = self.out / "experts" / expert.name / "eval_valid"
            with logs_to(self.merge_log):
                own[expert.task] = run_evaluation(
                    evaluation, str(checkpoints[expert.name]), str(results)
                )
            logger.info(
                "%s expert on %s: %s %.4f",
                expert.name,
                expert.task,
                expert.metric,
                own[expert.task],
            )
        return own

    def run_merge(self, argv: List[str]) -> None:
        """``unival merge ARGV`` in this process (logged to merge.log); raises on failure."""
        logger.info("unival merge %s", " ".join(argv[:2] + ["..."]))
        with logs_to(self.merge_log):
            logging.getLogger().info("$ unival merge %s", shlex.join(argv))
            args = build_merge_parser().parse_args(argv)
            try:
                MERGE_RUNNERS[args.command](args)
            except MERGE_ERRORS as error:
                logging.getLogger().error("%s", error)
                raise RuntimeError(
                    f"unival merge {argv[0]} failed ({error}); see {self.merge_log}"
                ) from error

    def sweep(self, base, checkpoints, eval_data, options):
        """The pair sweeps and the task-vector sweeps; returns their files and rows."""

        sweeps, work = self.out / "sweeps", self.out / "sweeps" / "merged"
        pairs, pair_rows = {}, {}
        for i, a in enumerate(EXPERTS):
            for b in EXPERTS[i + 1 :]:
                name = f"{a.name}_{b.name}"
                self.run_merge(
                    pair_sweep_argv(
                        a, b, checkpoints, self.s.lambdas, eval_data, options, sweeps / name, work
                    )
                )
                pairs[name] = {
                    "A": a.name,
                    "B": b.name,
                    "csv": str(sweeps / name / f"{name}_sweep.csv"),
                    "png": str(sweeps / name / f"{name}_sweep.png"),
                }
                pair_rows[name] = read_csv(pairs[name]["csv"])
        vector_files, vector_rows = {}, {}
        for method, scales, density in (
            ("task-arithmetic", self.s.ta_scales, None),
            ("ties", self.s.ties_scales, self.s.ties_density),
        ):
            name = method.replace("-", "_")
            self.run_merge(
                task_vector_sweep_argv(
                    method,
                    base,
                    checkpoints,
                    scales,
                    density,
                    eval_data,
                    options,
                    sweeps / name,
                    work,
                )
            )
            vector_files[method] = {
                "csv": str(sweeps / name / f"{name}_sweep.csv"),
                "png": str(sweeps / name / f"{name}_sweep.png"),
                "density": density,
                "frozen_keys": BN_STATISTICS,
            }
            vector_rows[method] = read_csv(vector_files[method]["csv"])
        return pairs, pair_rows, vector_files, vector_rows
