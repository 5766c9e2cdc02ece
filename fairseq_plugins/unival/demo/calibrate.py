"""Fit the CPU demo's base schedule to the speed of the machine it runs on.

Every training of the demo has a schedule (a number of updates; the learning rate decays to 0
over them) and a wall-clock cap. The base's schedule just fills its 6-minute cap at
:func:`reference_ups` updates/s; on a faster CPU it would end early and leave minutes of the
demo's budget unused (the experts' schedules already about fill their caps on a fast CPU:
BENCHMARKS.md section 1). So before the base trains, a short probe of the base's own command
measures this machine's updates/s, and the base gets ``margin x measured / reference`` times
its updates, clamped to ``[1, max_scale]``. The cap does not change, so neither does the
demo's wall time; on a slower machine the scale stays 1 and the cap stops the base as before.
The scale is held to :data:`MAX_BASE_SCALE`: longer bases did not make better experts.
"""

from __future__ import annotations

import logging
import re
import shutil
import statistics
from dataclasses import replace
from pathlib import Path
from typing import List

from unival.demo.context import RUN_SCRIPTS, DemoContext
from unival.demo.recipes import prepare_pretraining, pretrain_env

logger = logging.getLogger("unival.demo")

PROBE_UPDATES = 120
PROBE_LOG_INTERVAL = 20
_UPS = re.compile(r"\| train_inner \|.*?\bups=([0-9.]+)")
# Longer bases did not make better experts: five bases of 1,300-1,747 updates (same seed and
# world) gave caption experts of 4.83-5.63 CIDEr-D and VQA experts of 0.515-0.675 with no
# trend beyond that spread (BENCHMARKS.md section 1), so a fast machine gets at most 15% more
# base updates and finishes the base before its cap instead
MAX_BASE_SCALE = 1.15


def reference_ups(settings) -> float:
    """The base's updates/s at which its schedule exactly fills its wall-clock cap."""
    return settings.pretrain.updates / (60.0 * settings.pretrain.minutes)


def interval_ups(log_text: str) -> List[float]:
    """The ``ups=`` of every fairseq ``train_inner`` line of a training log, in order."""
    return [float(m.group(1)) for m in _UPS.finditer(log_text)]


def budget_scale(
    ups: float, reference: float, margin: float = 0.85, max_scale: float = MAX_BASE_SCALE
):
    """``margin x ups / reference`` clamped to ``[1, max_scale]``: the factor for the base's
    updates. ``margin`` < 1: the whole run is a little slower than the probe's steady state
    (start-up, a new epoch's first batches, the checkpoint)."""
    return min(max_scale, max(1.0, margin * ups / reference))


def probe_speed(ctx: DemoContext, settings, world: Path, work: Path) -> float:
    """Median updates/s of :data:`PROBE_UPDATES` updates of the base's training command (the
    first logged interval, which holds start-up, left out); the probe's files are removed."""
    folder = work / "speed_probe"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    log = folder / "train.log"
    probe = replace(
        settings,
        pretrain=replace(settings.pretrain, updates=PROBE_UPDATES),
        log_interval=PROBE_LOG_INTERVAL,
    )
    prepare_pretraining(settings, world)
    ctx.run(
        ["bash", str(RUN_SCRIPTS / "pretraining" / "stage1.sh")],
        log,
        pretrain_env(probe, world, folder / "checkpoints"),
    )
    speeds = interval_ups(log.read_text(encoding="utf-8", errors="replace"))[1:]
    if not speeds:
        raise RuntimeError(f"the speed probe logged no train_inner line with ups=; see {log}")
    shutil.rmtree(folder, ignore_errors=True)
    return statistics.median(speeds)


def calibrate(ctx: DemoContext, settings, world: Path, work: Path) -> dict:
    """Probe this machine and scale the base's schedule in ``settings`` (in place); returns
    ``{"probe_ups", "reference_ups", "scale"}`` for the report."""
    reference = reference_ups(settings)
    ups = probe_speed(ctx, settings, world, work)
    scale = budget_scale(ups, reference)
    updates = round(scale * settings.pretrain.updates)
    settings.pretrain = replace(settings.pretrain, updates=updates)
    logger.info(
        "speed probe: %.2f updates/s for the base (its schedule fills its cap at %.2f): "
        "base schedule x %.2f = %d updates",
        ups,
        reference,
        scale,
        settings.pretrain.updates,
    )
    return {"probe_ups": round(ups, 3), "reference_ups": round(reference, 3), "scale": scale}
