"""Runs the demo's stages in order and writes ``report.json``.

Stages: ``multitask`` pretrains a multitask ``unival_tiny`` base and fine-tunes the image
experts from it (:mod:`unival.demo.multitask`); ``media`` fine-tunes the video and audio
experts from the same base (:mod:`unival.demo.media`); ``probes`` measures hallucination and
complex instructions on those experts (:mod:`unival.demo.probes`); ``caption`` is the
single-task captioning demo (:mod:`unival.demo.caption`). With more than one expert worker the
media stage does not wait for the image experts: it starts once they are queued, and its
experts take the workers the image experts free (:func:`run_stages`).
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from unival.demo.caption import METRICS, SYSTEMS, CaptionStage
from unival.demo.context import DemoContext, demo_environment, require_checkout
from unival.demo.media import MediaStage
from unival.demo.multitask import MultitaskStage
from unival.demo.probes import ProbesStage
from unival.demo.profiles import CHECKPOINT, settings_for
from unival.demo.schedule import ExpertPool

logger = logging.getLogger("unival.demo")

STAGE_NAMES = ("caption", "multitask", "media", "probes")
DEFAULT_STAGES = "multitask,media,probes"
STAGE_CLASSES = {
    "caption": CaptionStage,
    "multitask": MultitaskStage,
    "media": MediaStage,
    "probes": ProbesStage,
}


def check_stage_order(names: Sequence[str]) -> None:
    """Refuse unknown stages, and media / probes listed before the multitask stage (without it
    they continue an earlier run's: :func:`earlier_multitask`)."""
    unknown = [n for n in names if n not in STAGE_NAMES]
    if unknown:
        raise SystemExit(f"unknown stage(s) {unknown}; known: {', '.join(STAGE_NAMES)}")
    for later in ("media", "probes"):
        if (
            later in names
            and "multitask" in names
            and names.index("multitask") > names.index(later)
        ):
            raise SystemExit(
                f"the {later} stage starts from the multitask stage's models: "
                f"list multitask before {later} (--stages multitask,{later})"
            )


def earlier_multitask(out: Path, ctx: DemoContext) -> Dict:
    """The multitask stage a previous run wrote into ``out`` (its section of ``report.json``),
    with ``ctx.world``, ``ctx.base`` and ``ctx.experts`` pointing at its files, so that
    ``--stages media`` (or ``media,probes``) can follow ``--stages multitask`` as a second
    command. Exits with a message naming what is missing."""
    report_path = out / "report.json"
    section = None
    if report_path.is_file():
        section = json.loads(report_path.read_text()).get("multitask")
    base = out / "multitask" / "base" / "checkpoints" / CHECKPOINT
    world = out / "toy_world"
    missing = [str(p) for p in (base, world / "dict.txt") if not p.exists()]
    if section is None or missing:
        what = ", ".join(missing) if missing else f"a multitask section in {report_path}"
        raise SystemExit(
            f"the media and probes stages start from the multitask stage's models: run "
            f"--stages multitask first (into {out}), or list it before them ({what} not found)"
        )
    ctx.world, ctx.base = world, base
    ctx.experts = {
        name: out / "multitask" / name / "checkpoints" / CHECKPOINT
        for name in section.get("tasks", {})
    }
    return section


def run_demo(
    out: Path,
    names: Sequence[str],
    seed: int = 0,
    smoke: bool = False,
    device: str = "cpu",
    base_updates: Optional[int] = None,
    time_scale: float = 1.0,
    parallel_experts: Optional[int] = None,
) -> Dict:
    """Run the stages ``names`` into ``out`` on ``device`` (cpu, or gpu: the GPU profile of
    :mod:`unival.demo.profiles`); returns the report (also written as ``report.json``) and
    prints the summary tables. ``base_updates``: the base's schedule, instead of the CPU
    recipe's speed probe (:mod:`unival.demo.calibrate`); ``time_scale``: every training's updates
    and cap times this factor; ``parallel_experts``: experts trained at once (None: the
    profile's)."""
    names = list(names)
    out = Path(out).resolve()
    ctx = DemoContext(out=out, seed=seed, env=demo_environment(), device=device)
    settings = settings_for(device, smoke, base_updates, time_scale, parallel_experts)
    check_stage_order(names)
    earlier = None
    if "multitask" not in names and {"media", "probes"} & set(names):
        earlier = earlier_multitask(out, ctx)
        ctx.image_size = settings.image_size
    require_checkout()
    out.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    stages: List = []
    for name in names:
        if name in ("multitask", "media"):
            stages.append(STAGE_CLASSES[name](settings))
        else:
            stages.append(STAGE_CLASSES[name]())
    report: Dict = {
        "device": device,
        "time_scale": time_scale,
        "parallel_experts": settings.parallel_experts,
    }
    if earlier is not None:
        report["multitask"] = earlier  # from the earlier run into this folder
    ctx.pool = ExpertPool(settings.parallel_experts)
    try:
        run_stages(stages, ctx, report, out / "report.json")
    finally:
        ctx.pool.shutdown()
    report["seconds"] = round(time.monotonic() - started, 1)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(format_report(report, stages))
    logger.info("report written to %s", out / "report.json")
    return report


def run_stages(stages: Sequence, ctx: DemoContext, report: Dict, report_path: Path) -> None:
    """``report[stage.name] = stage.run(ctx)`` for each stage in order, the report written after
    each (a later failure leaves it). With the multitask and media stages and more than one worker
    in the pool, the media stage runs in a second thread from the moment the image experts are
    queued; its result is collected in its turn."""
    names = [stage.name for stage in stages]
    early: Dict[str, Future] = {}
    background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="media-stage")
    if ctx.pool.workers > 1 and "multitask" in names and "media" in names:
        media = stages[names.index("media")]
        ctx.experts_queued = lambda: early.setdefault("media", background.submit(media.run, ctx))
    raised = None
    try:
        for stage in stages:
            future = early.get(stage.name)
            report[stage.name] = future.result() if future is not None else stage.run(ctx)
            report_path.write_text(json.dumps(report, indent=2) + "\n")
    except BaseException as error:
        raised = error
        raise
    finally:
        ctx.experts_queued = None
        background.shutdown(wait=True)  # a failed multitask stage still lets the media one end
        for name, future in early.items():  # a second failure is named, not dropped
            error = future.exception()
            if error is not None and error is not raised:
                logger.error("the %s stage failed too: %s", name, error)


def format_report(report: Dict, stages: Sequence) -> str:
    """The printed summary: one metrics table per stage, then the stage's own lines."""
    lines = []
    for stage in stages:
        if getattr(stage, "has_task_table", False):  # multitask / media: the stage prints its table
            lines.append(stage.describe())
            continue
        table = report[stage.name]
        lines.append(f"{stage.name}:{'':<24}" + "".join(f"{m:>10}" for m in METRICS))
        for system in SYSTEMS:
            lines.append(f"  {system:<30}" + "".join(f"{table[m][system]:>10.3f}" for m in METRICS))
        lines.append(stage.describe())
    lines.append(f"total {report['seconds']:.0f} s")
    return "\n".join(lines)
