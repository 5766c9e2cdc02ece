"""``UnivalPredictor``: batched captioning, VQA, grounding and entailment over a loaded model.

Every method runs its inputs through the *task's* dataset (``process_row``: prompt, text
normalisation, image transform) and the *task's* prediction code (``generate_texts``,
``predict_answers``, ``generate_boxes``) with the released generation settings
(:mod:`unival.hub.generation`), so the results equal ``unival eval`` / fairseq-generate for
the same checkpoint, inputs and settings. Methods whose task is not registered (video and
audio tasks when a plugin lacks them) raise ``NotImplementedError`` naming the task. Video
and audio inputs are file paths or ``bytes``: the media loaders decode files, so bytes are
written to a temporary folder that is removed once their batch has been processed.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from fairseq import utils
from fairseq.tasks import TASK_DATACLASS_REGISTRY, TASK_REGISTRY
from PIL import Image

from unival.hub.generation import generation_namespace, generation_settings
from unival.hub.inputs import (
    InMemoryRows,
    MediaScratch,
    as_list,
    image_field,
    is_single_media,
    media_file_field,
    text_field,
)
from unival.hub.names import METHOD_TASKS
from unival.metrics.caption import strip_punctuation

logger = logging.getLogger(__name__)

#: task config fields that name files on the training machine: never taken from a checkpoint
MACHINE_FIELDS = ("data", "image_dir", "selected_cols", "dict_path", "bpe_dir")


@dataclass(frozen=True)
class PredictionError:
    """A skipped input (``skip_bad=True``): its position and the reason."""

    index: int
    reason: str


@dataclass
class ModelAssets:
    """The files a loaded model came with (what ``unival export`` copies)."""

    dict_path: str
    encoder_json: str
    vocab_bpe: str
    source: str
    weights: str = "model"


class UnivalPredictor:
    """A loaded UnIVAL model + tokenizer with one method per task (see module docstring).

    ``task_name``/``saved_task`` are the checkpoint's own task and its config: that task's
    settings (image size, candidate answers, inference type) are used when a method needs
    it; other tasks use their config defaults. ``task_overrides`` apply to every task that
    has the field (e.g. ``{"patch_image_size": 64}``).
    """

    def __init__(
        self,
        model,
        tokenizer,
        assets: ModelAssets,
        task_name: Optional[str] = None,
        saved_task: Optional[Dict[str, Any]] = None,
        task_overrides: Optional[Dict[str, Any]] = None,
        device: Optional[str] = None,
    ):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.eval().to(self.device)
        if self.device.type == "cpu" and hasattr(self.model, "pack_decoder_for_cpu_inference_"):
            self.model.pack_decoder_for_cpu_inference_()  # faster decoding, same results
        self.tokenizer = tokenizer
        self.assets = assets
        self.task_name = task_name
        self.saved_task = dict(saved_task or {})
        self.task_overrides = dict(task_overrides or {})
        self._tasks: Dict[Tuple, Any] = {}
        self._generators: Dict[Tuple, Any] = {}

    # ------------------------------------------------------------------ tasks
    def task_config(self, name: str, **overrides):
        """The config the predictor uses for task ``name`` (saved values, then overrides)."""
        if name not in TASK_REGISTRY or name not in TASK_DATACLASS_REGISTRY:
            raise NotImplementedError(
                f"the '{name}' task is not available in this toolkit yet, so its predictor method "
                f"cannot run; registered tasks: "
                f"{sorted(t for t in TASK_REGISTRY if t in METHOD_TASKS.values())}"
            )
        dataclass_type = TASK_DATACLASS_REGISTRY[name]
        fields = dataclass_type.__dataclass_fields__
        unknown = sorted(set(overrides) - set(fields))
        if unknown:
            raise ValueError(f"unknown {name} task options {unknown}")
        values = (
            {k: v for k, v in self.saved_task.items() if k in fields}
            if name == self.task_name
            else {}
        )
        values.update({k: v for k, v in self.task_overrides.items() if k in fields})
        values.update(overrides)
        for key in MACHINE_FIELDS:
            values.pop(key, None)
        values["dict_path"] = self.assets.dict_path
        candidates = values.get("ans2label_file")
        if candidates is not None and not _is_file(candidates):
            raise FileNotFoundError(
                f"the candidate answers file {candidates} named by the checkpoint does not exist "
                f"here: pass task_overrides={{'ans2label_file': PATH}} (or --ans2label-file) "
                f"with the answer list"
            )
        return dataclass_type(**values)

    def task(self, name: str, **overrides):
        """The task object ``name`` over this predictor's tokenizer (cached per overrides)."""
        key = (name, tuple(sorted(overrides.items())))
        if key not in self._tasks:
            cfg = self.task_config(name, **overrides)
            self._tasks[key] = TASK_REGISTRY[name](cfg, self.tokenizer)
        return self._tasks[key]

    def generator(self, task, settings: Dict[str, Any]):
        """``task.build_generator`` for ``settings`` (cached)."""
        key = (id(task), tuple(sorted(settings.items())))
        if key not in self._generators:
            self._generators[key] = task.build_generator(
                [self.model], generation_namespace(settings)
            )
        return self._generators[key]

    # ------------------------------------------------------------------ public methods
    def caption(self, images, batch_size: int = 8, **generation):
        """Captions (punctuation-stripped, as ``unival eval`` writes them) of images."""
        return self._collect("caption", images, None, batch_size, generation)

    def vqa(
        self, images, questions, batch_size: int = 8, inference: Optional[str] = None, **generation
    ):
        """Answers; ``inference`` "beamsearch" or "allcand" (default: the checkpoint's setting)."""
        overrides = {"val_inference_type": inference} if inference else {}
        return self._collect("vqa", images, questions, batch_size, generation, overrides)

    def ground(self, images, expressions, batch_size: int = 8, **generation):
        """Boxes ``[x0, y0, x1, y1]`` in pixels of each original image."""
        return self._collect("ground", images, expressions, batch_size, generation)

    def entail(self, images, hypotheses, batch_size: int = 8):
        """ "yes" (entailment), "no" (contradiction) or "maybe" (neutral) per image/hypothesis."""
        return self._collect("entail", images, hypotheses, batch_size, {})

    def caption_video(self, videos, batch_size: int = 4, **generation):
        """Video captions; ``videos``: file paths or the files' bytes (``video_caption`` task)."""
        return self._collect("caption_video", videos, None, batch_size, generation)

    def video_qa(self, videos, questions, batch_size: int = 4, **generation):
        """Video QA answers; ``videos``: file paths or bytes (``video_vqa_gen`` task)."""
        return self._collect("video_qa", videos, questions, batch_size, generation)

    def caption_audio(self, clips, batch_size: int = 4, **generation):
        """Audio captions; ``clips``: file paths or the files' bytes (``audio_caption`` task)."""
        return self._collect("caption_audio", clips, None, batch_size, generation)

    def generation_summary(self, method: str, **generation) -> str:
        """The settings ``method`` runs with, as text (for logs and benchmarks)."""
        settings = generation_settings(METHOD_TASKS[method], generation)
        return ", ".join(f"{k}={v}" for k, v in settings.items()) or "candidate scoring"

    # ------------------------------------------------------------------ machinery
    def _collect(self, method, media, texts, batch_size, generation, task_overrides=None):
        single = is_single_media(media)
        if single and isinstance(texts, str):
            texts = [texts]
        results = [
            r
            for _, r in self.iter_predict(
                method,
                media,
                texts,
                batch_size=batch_size,
                generation=generation,
                task_overrides=task_overrides,
            )
        ]
        return results[0] if single else results

    def iter_predict(
        self,
        method: str,
        media,
        texts: Optional[Sequence[str]] = None,
        batch_size: int = 8,
        generation: Optional[Dict[str, Any]] = None,
        task_overrides: Optional[Dict[str, Any]] = None,
        skip_bad: bool = False,
    ) -> Iterator[Tuple[int, Any]]:
        """``(index, result)`` for every input, in order, one batch at a time.

        With ``skip_bad`` an unreadable input yields a :class:`PredictionError` instead of raising.
        """
        task, handler, media, texts = self._prepare(method, media, texts, task_overrides)
        settings = generation_settings(task_name_of(task), generation or {})
        generator = self.generator(task, settings) if handler.uses_generator(task) else None
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        for start in range(0, len(media), batch_size):
            stop = min(start + batch_size, len(media))
            with MediaScratch() as scratch:  # media bytes live on disk until the batch is done
                batch, positions, results = self._build_batch(
                    task, handler, media[start:stop], texts[start:stop], start, skip_bad, scratch
                )
                if batch is not None:
                    with torch.no_grad():
                        outputs = handler.run(task, self.model, batch, generator)
                    for row_id, output in zip(batch["id"].tolist(), outputs):
                        results[positions[row_id]] = output
            for index in sorted(results):
                yield index, results[index]

    def model_inputs(
        self,
        method: str,
        media,
        texts: Optional[Sequence[str]] = None,
        task_overrides: Optional[Dict[str, Any]] = None,
    ) -> Dict[str, Any]:
        """The collated batch ``method`` feeds the model for all of ``media`` at once (inspection).

        ``batch["net_input"]`` holds e.g. ``patch_videos`` (B, 3, T, P, P) or ``patch_audios``
        (B, S); bad inputs raise.
        """
        task, handler, media, texts = self._prepare(method, media, texts, task_overrides)
        with MediaScratch() as scratch:
            batch, _, _ = self._build_batch(task, handler, media, texts, 0, False, scratch)
        return batch

    def _prepare(self, method, media, texts, task_overrides):
        """``(task, handler, media list, texts list)`` of a call (texts: None per input when
        unused)."""
        if method not in METHOD_TASKS:
            raise ValueError(f"unknown method {method!r}; one of {sorted(METHOD_TASKS)}")
        task = self.task(METHOD_TASKS[method], **(task_overrides or {}))
        handler = TASK_HANDLERS.get(task.__class__.__name__)
        if handler is None:
            raise NotImplementedError(
                f"{method} is not implemented for the {type(task).__name__} task yet"
            )
        media = as_list(media, "inputs")
        if not handler.needs_text:
            return task, handler, media, [None] * len(media)
        texts = as_list(texts, "texts") if texts is not None else []
        if len(texts) != len(media):
            raise ValueError(f"{method}: {len(media)} inputs but {len(texts)} texts")
        return task, handler, media, texts

    def _build_batch(self, task, handler, media, texts, start, skip_bad, scratch):
        """``(batch on the device or None, row -> input index, {index: PredictionError})`` of
        one batch."""
        results: Dict[int, Any] = {}
        rows, positions = [], []
        for offset, (item, text) in enumerate(zip(media, texts)):
            try:
                rows.append(
                    handler.row(task, f"{start + offset}", handler.media_field(item, scratch), text)
                )
                positions.append(start + offset)
            except (OSError, ValueError, TypeError, Image.DecompressionBombError) as error:
                if not skip_bad:
                    raise
                results[start + offset] = PredictionError(start + offset, _naming(item, str(error)))
        if not rows:
            return None, positions, results
        dataset = task.build_dataset("test", InMemoryRows(rows, numbers=[p + 1 for p in positions]))
        dataset.skip_bad_samples = skip_bad
        samples = [dataset[i] for i in range(len(rows))]
        for sample in samples:
            if "skipped" in sample:
                index = positions[sample["id"]]
                results[index] = PredictionError(
                    index, _naming(media[index - start], sample["skipped"])
                )
        batch = dataset.collater(samples)
        if not batch or "net_input" not in batch:
            return None, positions, results
        return utils.apply_to_sample(lambda t: t.to(self.device), batch), positions, results


def _naming(item, reason: str) -> str:
    """``reason`` prefixed with the input's path when it does not name the file already (an
    image without an image suffix is read as bytes, and the decoder never sees its name)."""
    if isinstance(item, (str, os.PathLike)) and os.path.basename(os.fspath(item)) not in reason:
        return f"{os.fspath(item)}: {reason}"
    return reason


def _is_file(path) -> bool:
    return os.path.isfile(os.fspath(path))


def task_name_of(task) -> str:
    """The registered name of a task object."""
    for name, cls in TASK_REGISTRY.items():
        if type(task) is cls:
            return name
    raise ValueError(f"{type(task).__name__} is not a registered task")


# ---------------------------------------------------------------------- per-task handlers
def _image_field(item, scratch: MediaScratch) -> str:
    return image_field(item)


def _video_field(item, scratch: MediaScratch) -> str:
    return media_file_field(item, "video", scratch)


def _audio_field(item, scratch: MediaScratch) -> str:
    return media_file_field(item, "audio", scratch)


@dataclass(frozen=True)
class TaskHandler:
    """How one task turns an input into a TSV row and a batch into results."""

    needs_text: bool
    row: Callable[[Any, str, str, Optional[str]], List[str]]
    run: Callable[[Any, Any, dict, Any], List[Any]]
    uses_generator: Callable[[Any], bool]
    media_field: Callable[[Any, MediaScratch], str] = (
        _image_field  # (input, scratch) -> TSV media field
    )


def _first_candidate(task, fallback: str) -> str:
    candidates = getattr(task, "candidates", None)
    return candidates.answers[0] if candidates is not None and len(candidates) else fallback


TASK_HANDLERS: Dict[str, TaskHandler] = {
    "CaptionTask": TaskHandler(
        needs_text=False,
        row=lambda task, uid, image, _: [uid, image, "image"],  # the reference is unused
        run=lambda task, model, batch, gen: [
            strip_punctuation(t) for t in task.generate_texts(gen, [model], batch)
        ],
        uses_generator=lambda task: True,
    ),
    "VqaGenTask": TaskHandler(
        needs_text=True,
        row=lambda task, uid, image, question: [
            uid,
            image,
            text_field(question, "question"),
            f"1.0|!+{_first_candidate(task, 'yes')}",
        ],
        run=lambda task, model, batch, gen: task.predict_answers([model], batch, gen),
        uses_generator=lambda task: task.inference_type == "beamsearch",
    ),
    "RefcocoTask": TaskHandler(
        needs_text=True,
        row=lambda task, uid, image, expression: [
            uid,
            image,
            text_field(expression, "expression"),
            "0,0,0,0",
        ],
        run=lambda task, model, batch, gen: task.generate_boxes(gen, [model], batch).tolist(),
        uses_generator=lambda task: True,
    ),
    "SnliVeTask": TaskHandler(
        needs_text=True,
        row=lambda task, uid, image, hypothesis: [
            uid,
            image,
            text_field(hypothesis, "hypothesis"),
            "",
            _first_candidate(task, "yes"),
        ],
        run=lambda task, model, batch, gen: task.predict_answers([model], batch),
        uses_generator=lambda task: False,
    ),
}
# the media tasks share the image tasks' rows and prediction code; their inputs are files (or bytes)
TASK_HANDLERS["VideoCaptionTask"] = replace(TASK_HANDLERS["CaptionTask"], media_field=_video_field)
TASK_HANDLERS["AudioCaptionTask"] = replace(TASK_HANDLERS["CaptionTask"], media_field=_audio_field)
TASK_HANDLERS["VideoVqaGenTask"] = replace(TASK_HANDLERS["VqaGenTask"], media_field=_video_field)
