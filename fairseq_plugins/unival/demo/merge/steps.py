"""The steps of ``python -m unival.demo.merge``: run-script environments, evaluation options,
``unival merge sweep`` command lines.

The three experts (:data:`EXPERTS`) are the caption, VQA and grounding recipes of
``run_scripts/{caption,vqa,refcoco}``; the shared base is ``run_scripts/pretraining/stage1.sh``
(``unify_task``) from scratch. Every training runs the real run script with environment
variables (:func:`pretrain_env`, :func:`expert_env`), and every evaluation uses the options that
the task's ``eval.sh`` renders with ``DRY_RUN=1`` (:func:`eval_options`), so the demo trains and
scores exactly as the recipes do, at toy size on CPU.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from unival.demo.context import RUN_SCRIPTS
from unival.demo.recipes import NO_VIDEO_ENCODER, common_train_env, schedule_args

# The BatchNorm running statistics of the image backbone are buffers, not trained weights. A
# convex interpolation keeps a running variance positive, but the task-vector merges extrapolate:
# on the full demo, base + 1.0 * (sum of the three task vectors) made a running_var negative
# (-0.19), and the merged model output NaN. The task-vector sweeps therefore copy them from
# the base (``--frozen-keys``); the pair interpolations merge every float tensor.
BN_STATISTICS = r"running_(mean|var)$"


@dataclass(frozen=True)
class Expert:
    """One task expert: ``name`` (its run_scripts folder), the fairseq ``task`` (the ``--eval``
    name of the sweeps), the toy-world file ``prefix`` and the reported metric."""

    name: str
    task: str
    prefix: str
    metric: str

    def train_tsv(self, world: Path) -> Path:
        return world / f"{self.prefix}_train.tsv"

    def valid_tsv(self, world: Path) -> Path:
        return world / f"{self.prefix}_valid.tsv"


EXPERTS = (
    Expert("caption", "caption", "caption", "cider"),
    Expert("vqa", "vqa_gen", "vqa", "vqa_score"),
    Expert("refcoco", "refcoco", "refcoco", "score"),
)


def expert_env(
    expert: Expert,
    settings,
    world: Path,
    train_tsv: Path,
    base: Path,
    save_dir: Path,
    stop_hours: float,
) -> Dict[str, str]:
    """``run_scripts/{expert}/train.sh`` from the base checkpoint (``--restore-file`` with the
    optimizer, data loader and meters reset), without validation: the last checkpoint is the
    expert (the learning rate has decayed to 0 by then)."""
    extra = schedule_args(settings.expert_updates, stop_hours) + ["--disable-validation"]
    if expert.name != "refcoco":  # the refcoco recipe passes it already
        extra.append(NO_VIDEO_ENCODER)
    env = {
        **common_train_env(settings),
        "TRAIN_DATA": str(train_tsv),
        "VALID_DATA": str(expert.valid_tsv(world)),
        "DICT_PATH": str(world / "dict.txt"),
        "INIT_CHECKPOINT": str(base),
        "SAVE_DIR": str(save_dir),
        "LR": str(settings.expert_lr),
        "EXTRA_ARGS": shlex.join(extra),
    }
    if expert.name == "caption":
        env["DROP_WORST_RATIO"] = "0.0"
    if expert.name == "vqa":
        env.update(ANS2LABEL=str(world / "vqa_ans2label.pkl"), EMA="0")
    return env


def render_eval_command(expert: Expert, settings, tsv: Path, env: Dict[str, str]) -> List[str]:
    """The ``unival eval`` command that ``run_scripts/{expert}/eval.sh`` runs on ``tsv``
    (rendered with ``DRY_RUN=1``; the checkpoint and results path are placeholders)."""
    variables = {
        "DRY_RUN": "1",
        "DEVICE": "cpu",
        "EXTRA_ARGS": "",
        "EMA_EVAL": "0",
        "CHECKPOINT": "CHECKPOINT.pt",
        "TEST_DATA": str(tsv),
        "RESULTS_DIR": "RESULTS",
        "PATCH_IMAGE_SIZE": str(settings.image_size),
        "BATCH_SIZE": str(settings.eval_batch_size),
    }
    if expert.name == "caption":  # the other tasks keep their eval.sh beam (5)
        variables["BEAM"] = str(settings.caption_beam)
    script = RUN_SCRIPTS / expert.name / "eval.sh"
    proc = subprocess.run(
        ["bash", str(script)], env={**env, **variables}, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{script} with DRY_RUN=1 failed (exit {proc.returncode}): {proc.stderr.strip()}"
        )
    return shlex.split(proc.stdout.strip())


def eval_options(expert: Expert, settings, tsv: Path, env: Dict[str, str]) -> List[str]:
    """The options of :func:`render_eval_command` without the program, checkpoint, ``--data``
    and ``--results-path`` (what ``unival merge sweep --eval-args`` takes)."""
    argv = render_eval_command(expert, settings, tsv, env)
    if argv[1:3] != ["eval", "CHECKPOINT.pt"]:
        raise RuntimeError(
            f"eval.sh of {expert.name} did not render a unival eval command: {shlex.join(argv)}"
        )
    return [arg for arg in argv[3:] if not arg.startswith(("--data=", "--results-path="))]


def evaluation_args(
    experts: Sequence[Expert], eval_data: Dict[str, Path], options: Dict[str, List[str]]
) -> List[str]:
    """``--eval TASK=TSV ... --eval-args TASK=ARGS ...`` for ``experts``' tasks."""
    evals = [f"{e.task}={eval_data[e.name]}" for e in experts]
    eval_args = [f"{e.task}={shlex.join(options[e.name])}" for e in experts]
    return ["--eval", *evals, "--eval-args", *eval_args]


def grid_text(values: Sequence[float]) -> str:
    return ",".join(repr(float(v)) for v in values)


def pair_sweep_argv(
    a: Expert,
    b: Expert,
    checkpoints: Dict[str, Path],
    lambdas: Sequence[float],
    eval_data: Dict[str, Path],
    options: Dict[str, List[str]],
    out_dir: Path,
    work_dir: Path,
) -> List[str]:
    """``unival merge sweep A B --lambdas ...`` evaluated on both experts' tasks."""
    return [
        "sweep",
        str(checkpoints[a.name]),
        str(checkpoints[b.name]),
        "--lambdas",
        grid_text(lambdas),
        "--name",
        f"{a.name}_{b.name}",
        "--out-dir",
        str(out_dir),
        "--work-dir",
        str(work_dir),
        "--delete-checkpoints",
        "--force",
        *evaluation_args([a, b], eval_data, options),
    ]


def task_vector_sweep_argv(
    method: str,
    base: Path,
    checkpoints: Dict[str, Path],
    scales: Sequence[float],
    density: Optional[float],
    eval_data: Dict[str, Path],
    options: Dict[str, List[str]],
    out_dir: Path,
    work_dir: Path,
) -> List[str]:
    """``unival merge sweep --method {task-arithmetic,ties} --base BASE E1 E2 E3 --scales ...``
    evaluated on every expert's task, BatchNorm statistics copied from the base."""
    argv = [
        "sweep",
        *[str(checkpoints[e.name]) for e in EXPERTS],
        "--method",
        method,
        "--base",
        str(base),
        "--scales",
        grid_text(scales),
        "--name",
        method.replace("-", "_"),
        "--frozen-keys",
        BN_STATISTICS,
        "--out-dir",
        str(out_dir),
        "--work-dir",
        str(work_dir),
        "--delete-checkpoints",
        "--force",
    ]
    if density is not None:
        argv += ["--density", repr(float(density))]
    return argv + evaluation_args(EXPERTS, eval_data, options)
