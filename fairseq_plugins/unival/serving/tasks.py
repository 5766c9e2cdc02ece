"""The served tasks: one row per predictor method (its tab, its inputs, its API route).

The route and the keys are the Python API's method names (``UnivalPredictor.caption`` is
``POST /api/caption``), so a page, an HTTP call and a Python call name a task the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

from unival.hub.names import METHOD_TASKS


@dataclass(frozen=True)
class ServedTask:
    """One task of the page and the API.

    ``method``: the predictor method (and API route); ``modality``: "image", "video" or
    "audio" (the upload's field name in the API); ``text``: the name of the text input
    (question/expression/hypothesis) or None; ``result``: the answer's key.
    """

    method: str
    title: str
    modality: str
    text: Optional[str]
    result: str
    button: str

    @property
    def task(self) -> str:
        """The registered fairseq task whose data pipeline and generation the method uses."""
        return METHOD_TASKS[self.method]


SERVED_TASKS: Dict[str, ServedTask] = {
    t.method: t
    for t in (
        ServedTask("caption", "Image caption", "image", None, "caption", "Caption"),
        ServedTask("vqa", "VQA", "image", "question", "answer", "Answer"),
        ServedTask("ground", "Grounding", "image", "expression", "box", "Locate"),
        ServedTask("entail", "Entailment", "image", "hypothesis", "answer", "Judge"),
        ServedTask("caption_video", "Video caption", "video", None, "caption", "Caption"),
        ServedTask("video_qa", "Video QA", "video", "question", "answer", "Answer"),
        ServedTask("caption_audio", "Audio caption", "audio", None, "caption", "Caption"),
    )
}

#: names accepted by ``--model NAME=PATH``: the methods, the registered task names and the
#: names ``unival predict --task`` accepts
TASK_ALIASES: Dict[str, str] = {
    **{method: method for method in SERVED_TASKS},
    **{task: method for method, task in METHOD_TASKS.items()},
    "video_caption": "caption_video",
    "audio_caption": "caption_audio",
    "refcoco": "ground",
    "snli_ve": "entail",
    "vqa_gen": "vqa",
    "video_vqa_gen": "video_qa",
}


def resolve_method(name: str) -> str:
    """A task name of ``--model NAME=PATH`` -> the predictor method; unknown names raise
    ValueError."""
    method = TASK_ALIASES.get(name.strip().lower())
    if method is None:
        raise ValueError(f"unknown task {name!r}; one of {', '.join(sorted(TASK_ALIASES))}")
    return method
