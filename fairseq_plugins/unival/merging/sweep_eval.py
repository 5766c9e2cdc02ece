"""The evaluations of ``unival merge sweep``: which TSV, which ``unival eval`` options, which
metric.

An evaluation is named ``TASK`` or ``TASK.LABEL`` (``refcoco.small``): TASK is the fairseq task
the merged model is evaluated as (caption, vqa_gen, refcoco, snli_ve, video_caption,
video_vqa_gen, audio_caption), LABEL tells apart several evaluations of one task. Each runs
:func:`unival.evaluation.run.evaluate` (``unival eval``) in this process and reads one number, the
evaluation's metric, from the ``scores.json`` it writes. The command-line forms:

* ``--eval NAME=TSV ...``: the evaluations (at least one);
* ``--eval-args NAME=ARGS ...``: ``unival eval`` options for NAME, one shell-quoted string
  (``'vqa_gen=--beam 5 --val-inference-type beamsearch'``); ``all=ARGS`` applies to every
  evaluation (before its own). ``--data`` and ``--results-path`` are set by the sweep;
* ``--metric NAME=KEY ...``: the ``scores.json`` key to report (default per task:
  :data:`DEFAULT_METRICS`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shlex
import sys
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

from unival.evaluation.options import build_parser, check_arguments
from unival.evaluation.run import evaluate

logger = logging.getLogger("unival.merging.sweep")

#: the ``scores.json`` key reported for each task unless ``--metric`` says otherwise
DEFAULT_METRICS = {
    "caption": "cider",
    "video_caption": "cider",
    "audio_caption": "cider",
    "vqa_gen": "vqa_score",
    "video_vqa_gen": "vqa_score",
    "snli_ve": "snli_score",
    "refcoco": "score",
}
ALL = "all"
RESERVED_OPTIONS = ("--data", "--results-path")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[A-Za-z0-9_-]+)?$")


class SweepError(RuntimeError):
    """A sweep step failed (an evaluation, or its scores); the message names the step."""


@dataclass
class Evaluation:
    """One ``--eval``: ``name`` (``TASK[.LABEL]``), its ``task``, TSV, extra options, metric."""

    name: str
    task: str
    data: str
    options: List[str]
    metric: str


def parse_pairs(items: Sequence[str], option: str) -> Dict[str, str]:
    """``["a=x", "b=y"]`` -> ``{"a": "x", "b": "y"}``; refuses a missing ``=`` or a repeated
    NAME."""
    pairs: Dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise ValueError(f"{option} {item!r}: expected NAME=VALUE")
        if name in pairs:
            raise ValueError(f"{option}: {name} is given twice ({pairs[name]!r} and {value!r})")
        pairs[name] = value
    return pairs


def check_options(name: str, options: List[str]) -> None:
    """Refuse options the sweep sets itself, and anything ``unival eval`` would reject."""
    for option in options:
        if option.split("=", 1)[0] in RESERVED_OPTIONS:
            raise ValueError(
                f"--eval-args for {name}: {option.split('=', 1)[0]} is set by the "
                f"sweep (from --eval and --out-dir); remove it"
            )
        if option == "--ema-eval":
            raise ValueError(
                f"--eval-args for {name}: a merged checkpoint holds one set of "
                f"weights and no EMA; drop --ema-eval (merge EMA weights with --ema)"
            )
    try:
        build_parser().parse_args(["x.pt", "--data", "x", "--results-path", "x", *options])
    except SystemExit:
        raise ValueError(
            f"--eval-args for {name}: 'unival eval' rejects {shlex.join(options)!r} "
            f"(its message is above)"
        ) from None


def build_evaluations(
    evals: Sequence[str], eval_args: Sequence[str], metrics: Sequence[str]
) -> List[Evaluation]:
    """The evaluations of the command line, checked (names, files, options, metrics)."""
    data = parse_pairs(evals, "--eval")
    if not data:
        raise ValueError("give at least one evaluation: --eval TASK=VALID.tsv")
    options = {
        name: shlex.split(text) for name, text in parse_pairs(eval_args, "--eval-args").items()
    }
    metric_keys = parse_pairs(metrics, "--metric")
    for option, names in (("--eval-args", set(options) - {ALL}), ("--metric", set(metric_keys))):
        unknown = sorted(names - set(data))
        if unknown:
            raise ValueError(
                f"{option} names {', '.join(unknown)}, which no --eval defines "
                f"(have: {', '.join(data)}; 'all' for every evaluation in --eval-args)"
            )
    result = []
    for name, path in data.items():
        if name == ALL or not NAME_PATTERN.match(name):
            raise ValueError(
                f"--eval {name}={path}: the name must be TASK or TASK.LABEL "
                f"(a fairseq task name such as caption or vqa_gen; 'all' is reserved)"
            )
        if not os.path.isfile(path):
            raise FileNotFoundError(f"--eval {name}={path}: no such file")
        task = name.split(".", 1)[0]
        metric = metric_keys.get(name, DEFAULT_METRICS.get(task))
        if metric is None:
            raise ValueError(
                f"--eval {name}: no default metric for task {task}; "
                f"pass --metric {name}=KEY (a key of its scores.json)"
            )
        own = options.get(ALL, []) + options.get(name, [])
        check_options(name, own)
        result.append(Evaluation(name, task, path, own, metric))
    return result


def saved_task_name(fields: Mapping[str, Any]) -> Optional[str]:
    """The task a checkpoint was saved with (``cfg.task._name``, else legacy ``args.task``)."""
    cfg = fields.get("cfg")
    task = cfg.get("task") if isinstance(cfg, Mapping) else getattr(cfg, "task", None)
    name = task.get("_name") if isinstance(task, Mapping) else getattr(task, "_name", None)
    if name:
        return str(name)
    return getattr(fields.get("args"), "task", None)


def metric_value(scores_path: str, metric: str) -> float:
    """``scores.json[metric]`` as a float; errors name the file and the keys it has."""
    with open(scores_path, encoding="utf-8") as handle:
        scores = json.load(handle)
    if metric not in scores:
        raise SweepError(
            f"{scores_path} has no {metric!r} (keys: {', '.join(scores)}); choose one with --metric"
        )
    value = scores[metric]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SweepError(f"{scores_path}: {metric} is {value!r}, not a finite number")
    return float(value)


def run_evaluation(evaluation: Evaluation, checkpoint: str, results_dir: str) -> float:
    """``unival eval CHECKPOINT --data TSV --results-path DIR OPTIONS`` in this process (its
    stdout table goes to stderr); returns the metric read from ``DIR/scores.json``."""
    argv = [
        checkpoint,
        "--data",
        evaluation.data,
        "--results-path",
        results_dir,
        *evaluation.options,
    ]
    logger.info("unival eval %s", shlex.join(argv))
    scores_path = os.path.join(results_dir, "scores.json")
    if os.path.exists(scores_path):
        os.remove(scores_path)  # never read a stale file
    try:
        with contextlib.redirect_stdout(sys.stderr):
            args = build_parser().parse_args(argv)
            check_arguments(args)
            evaluate(args)
            status = 0
    except Exception as error:
        logger.error("evaluation %s of %s failed", evaluation.name, checkpoint, exc_info=True)
        raise SweepError(
            f"evaluation {evaluation.name} of {checkpoint} failed: {type(error).__name__}: {error}"
        ) from error
    if status not in (0, None) or not os.path.exists(scores_path):
        raise SweepError(
            f"evaluation {evaluation.name} of {checkpoint} wrote no "
            f"{scores_path} (exit status {status})"
        )
    return metric_value(scores_path, evaluation.metric)
