"""Running a stage's experts: fine-tune from a checkpoint with the task's run script, evaluate
with its ``eval.sh``, score against the blind baseline; experts that do not depend on each
other train side by side (:mod:`unival.demo.schedule`), each with ``expert_threads`` OpenMP
threads while another trains beside it. Shared by the multitask and media stages.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Dict, Optional

from unival.demo.context import RUN_SCRIPTS, DemoContext, shuffle_rows
from unival.demo.recipes import checkpoint_state, eval_env, finetune_env
from unival.demo.schedule import expert_chains, run_chains
from unival.demo.tasks import DemoTask, task_result

logger = logging.getLogger("unival.demo")


class StageRunner:
    """Shared steps of the two stages: fine-tune from a checkpoint, evaluate, score."""

    def __init__(self, ctx: DemoContext, settings, world: Path, work: Path):
        """``settings``: the stage's :class:`~unival.demo.multitask.MultitaskSettings`."""
        self.ctx, self.s, self.world, self.work = ctx, settings, world, work
        self.train_log = work / "train.log"
        self.seconds: Dict[str, float] = {}
        self.chains_left = 0  # chains of run_experts not finished yet
        self._lock = threading.Lock()

    def thread_env(self) -> Dict[str, str]:
        """``OMP_NUM_THREADS`` of an expert's training and evaluation while another expert
        trains beside it (``settings.expert_threads``); empty when 0 or when the expert has the
        machine to itself (the last chain): the environment's threads."""
        threads = self.s.expert_threads
        side_by_side = min(self.chains_left, self.s.parallel_experts) > 1
        return {"OMP_NUM_THREADS": str(threads)} if threads and side_by_side else {}

    def _chain_done(self) -> None:
        with self._lock:
            self.chains_left -= 1

    def logs(self, label: str) -> tuple:
        """(train log, eval log) of expert ``label``: the stage's shared logs, or the expert's
        own when experts train side by side."""
        if self.s.parallel_experts > 1:
            return self.work / f"{label}.train.log", self.work / f"{label}.eval.log"
        return self.train_log, self.work / "eval.log"

    def run_experts(self, order, starts: Dict[str, Optional[str]], step) -> None:
        """``step(label)`` for every expert of ``order``, after the expert it starts from
        (``starts``), ``parallel_experts`` chains at a time (:mod:`unival.demo.schedule`)."""
        chains = expert_chains(order, starts)
        steps = [
            [*(lambda label=label: step(label) for label in chain), self._chain_done]
            for chain in chains
        ]
        self.chains_left = len(chains)
        try:
            run_chains(steps, self.s.parallel_experts)
        finally:
            self.chains_left = 0

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
