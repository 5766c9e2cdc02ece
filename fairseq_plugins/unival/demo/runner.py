"""Running a stage's experts: fine-tune from a checkpoint with the task's run script, evaluate
with its ``eval.sh``, score against the blind baseline; experts that do not depend on each
other train side by side (:mod:`unival.demo.schedule`), each with ``expert_threads`` OpenMP
threads while another trains beside it. Shared by the multitask and media stages, whose experts
may share one pool of workers (``DemoContext.pool``).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Callable, Dict, Optional

from unival.demo.context import RUN_SCRIPTS, DemoContext, shuffle_rows
from unival.demo.recipes import checkpoint_state, eval_env, finetune_env
from unival.demo.schedule import ExpertPool, expert_chains
from unival.demo.tasks import DemoTask, task_result

logger = logging.getLogger("unival.demo")


class StageRunner:
    """Shared steps of the two stages: fine-tune from a checkpoint, evaluate, score."""

    def __init__(self, ctx: DemoContext, settings, world: Path, work: Path):
        """``settings``: the stage's :class:`~unival.demo.multitask.MultitaskSettings`."""
        self.ctx, self.s, self.world, self.work = ctx, settings, world, work
        self.train_log = work / "train.log"
        self.seconds: Dict[str, float] = {}
        self.pool = ctx.pool or ExpertPool(settings.parallel_experts)

    def thread_env(self) -> Dict[str, str]:
        """``OMP_NUM_THREADS`` of an expert's training and evaluation while another expert
        trains beside it (``settings.expert_threads``); empty when 0 or when the expert has the
        machine to itself (the pool's last chain): the environment's threads."""
        threads = self.s.expert_threads
        return {"OMP_NUM_THREADS": str(threads)} if threads and self.pool.side_by_side() else {}

    def logs(self, label: str) -> tuple:
        """(train log, eval log) of expert ``label``: the stage's shared logs, or the expert's
        own when experts train side by side."""
        if self.s.parallel_experts > 1:
            return self.work / f"{label}.train.log", self.work / f"{label}.eval.log"
        return self.train_log, self.work / "eval.log"

    def run_experts(
        self,
        order,
        starts: Dict[str, Optional[str]],
        step,
        queued: Optional[Callable[[], None]] = None,
    ) -> None:
        """``step(label)`` for every expert of ``order``, after the expert it starts from
        (``starts``), as chains of the pool (:mod:`unival.demo.schedule`); ``queued()`` once
        they are queued. Returns when all have finished."""
        chains = [
            [lambda label=label: step(label) for label in chain]
            for chain in expert_chains(order, starts)
        ]
        futures = self.pool.submit(chains)
        if queued is not None:
            queued()
        self.pool.wait(futures)

    def finetune(self, task: DemoTask, init: Optional[Path], label: str) -> Path:
        started = time.monotonic()
        budget = self.s.experts[task.name]
        folder = self.work / label
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        train_tsv = (
            folder / f"{task.prefix}_train_shuffled.tsv"
        )  # the world lists an item's rows together
        shuffle_rows(task.train_tsv(self.world), train_tsv, seed=self.ctx.seed)
        base_seconds = checkpoint_state(init)[1] if init else 0.0
        stop_hours = (base_seconds + 60 * budget.minutes) / 3600
        logger.info(
            "%s: fine-tuning %s (%d updates, cap %.2f min; log %s)",
            label,
            task.name,
            budget.updates,
            budget.minutes,
            self.logs(label)[0],
        )
        self.ctx.run(
            ["bash", str(RUN_SCRIPTS / task.script / "train.sh")],
            self.logs(label)[0],
            {
                **finetune_env(
                    task, self.s, self.world, train_tsv, init, folder / "checkpoints", stop_hours
                ),
                **self.thread_env(),
            },
        )
        self.seconds[label] = round(time.monotonic() - started, 1)
        return folder / "checkpoints" / "checkpoint_last.pt"

    def evaluate(self, task: DemoTask, checkpoint: Path, label: str) -> dict:
        started = time.monotonic()
        results = self.work / label / "eval"
        self.ctx.run(
            ["bash", str(RUN_SCRIPTS / task.script / "eval.sh")],
            self.logs(label)[1],
            {**eval_env(task, self.s, self.world, checkpoint, results), **self.thread_env()},
        )
        scores = json.loads((results / "scores.json").read_text())
        if task.score_key not in scores:
            raise RuntimeError(
                f"{results / 'scores.json'} has no {task.score_key!r} (keys: {sorted(scores)})"
            )
        baseline_name, baseline = task.baseline(self.world, task.test_tsv(self.world))
        updates, _ = checkpoint_state(checkpoint)
        self.seconds[f"{label}_eval"] = round(time.monotonic() - started, 1)
        return task_result(
            task,
            scores[task.score_key],
            baseline_name,
            baseline,
            {"updates": updates, "n": scores.get("n")},
        )
