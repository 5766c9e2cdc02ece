"""``make demo``'s media stage: video captioning, video QA and audio captioning fine-tuned from
the multitask base (which has seen no video or audio); video QA by default continues from the
video-captioning expert instead, so that it starts with a trained video encoder. Audio
captioning is trained a second time from scratch with the same budget, which shows whether the
image-text pretraining transfers to audio (the paper's finding).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Dict, Optional

from unival.demo.context import DemoContext
from unival.demo.multitask import MultitaskSettings
from unival.demo.runner import StageRunner
from unival.demo.tasks import (
    AUDIO_TASK,
    VIDEO_TASKS,
    DemoTask,
    baseline_lines,
    format_task_table,
)

VIDEO_QA_STARTS = ("base", "video_caption")


def video_init(task: DemoTask, settings: MultitaskSettings, base: Path, work: Path) -> Path:
    """The checkpoint a video expert starts from: the base, except video QA when
    ``settings.video_qa_from`` is "video_caption": the video-captioning expert under ``work``
    (the media stage's folder), trained first."""
    start = getattr(settings, "video_qa_from", "base")
    if start not in VIDEO_QA_STARTS:
        raise SystemExit(f"video_qa_from must be one of {VIDEO_QA_STARTS} (got {start!r})")
    if task.name == "video_qa" and start == "video_caption":
        return work / "video_caption" / "checkpoints" / "checkpoint_last.pt"
    return base


class MediaStage:
    """Video captioning, video QA and audio captioning from the multitask base; audio
    captioning from scratch too (the transfer comparison)."""

    name = "media"
    has_task_table = True

    def __init__(self, settings: Optional[MultitaskSettings] = None):
        self.settings = settings or MultitaskSettings()

    def run(self, ctx: DemoContext) -> Dict:
        base = getattr(ctx, "base", None)
        if base is None:
            raise SystemExit(
                "the media stage fine-tunes from the multitask stage's base: "
                "run --stages multitask,media"
            )
        work = ctx.out / self.name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        runner = StageRunner(ctx, self.settings, ctx.world, work)
        inits = {task.name: video_init(task, self.settings, base, work) for task in VIDEO_TASKS}
        inits.update(audio_caption=base, audio_caption_scratch=None)
        tasks = {task.name: task for task in VIDEO_TASKS}
        tasks.update(audio_caption=AUDIO_TASK, audio_caption_scratch=AUDIO_TASK)
        results = {}

        def train(label: str) -> None:
            init = inits[label]
            model = runner.finetune(tasks[label], init, label)
            results[label] = runner.evaluate(tasks[label], model, label)
            if label.startswith("audio"):
                results[label]["init"] = "multitask base (no audio seen)" if init else "scratch"
            else:
                results[label]["init"] = (
                    "multitask base" if init == base else "video caption expert"
                )

        # video QA may start from the video-captioning expert: it trains after it
        starts = {"video_qa": "video_caption"} if inits["video_qa"] != base else {}
        runner.run_experts(list(inits), starts, train)
        results = {label: results[label] for label in inits}
        self.results = results
        transfer = results["audio_caption"]["score"] - results["audio_caption_scratch"]["score"]
        return {
            "tasks": results,
            "audio_transfer_gain": round(transfer, 4),
            "seconds": runner.seconds,
        }

    def describe(self) -> str:
        video_qa = self.results["video_qa"]["init"]
        lines = format_task_table(
            f"media (from the multitask base; video QA from the {video_qa}; audio also from "
            "scratch)",
            self.results,
        )
        a, b = self.results["audio_caption"], self.results["audio_caption_scratch"]
        lines.append(
            f"  audio captioning from the image-text base: {a['score']:.3f} CIDEr-D, from scratch: "
            f"{b['score']:.3f} (same {a['updates']} vs {b['updates']} updates)"
        )
        return "\n".join(lines + baseline_lines(self.results))
