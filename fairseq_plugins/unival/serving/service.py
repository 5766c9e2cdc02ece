"""A request -> its answer: checks the inputs, queues them on the task's batcher, and reports
the result with the model, the generation settings and the latency (shared by page and API)."""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any, Dict, Optional

from unival.hub.generation import generation_settings
from unival.serving.batching import InputError, TaskBatcher
from unival.serving.models import ServedModel
from unival.serving.tasks import SERVED_TASKS

logger = logging.getLogger(__name__)


class NoModelError(LookupError):
    """The task has no model in this server."""


class Service:
    """The served models, one :class:`TaskBatcher` per task.

    ``generation``: fairseq generation options over every task's defaults (e.g. ``{"beam": 3}``);
    ``task_generation``: options for one task over those (``{"caption_audio": {"max_len_b": 20}}``).
    """

    def __init__(
        self,
        models: Dict[str, ServedModel],
        generation: Optional[Dict[str, Any]] = None,
        task_generation: Optional[Dict[str, Dict[str, Any]]] = None,
        max_batch_size: int = 8,
        max_wait_s: float = 0.01,
        timeout_s: float = 600.0,
    ):
        self.models = models
        self.generation = {k: v for k, v in (generation or {}).items() if v is not None}
        self.task_generation = dict(task_generation or {})
        self.timeout_s = timeout_s
        self._numbers = itertools.count(1)
        self._numbers_lock = threading.Lock()
        self.batchers = {
            method: TaskBatcher(model, self.generation_of(method), max_batch_size, max_wait_s)
            for method, model in models.items()
        }

    def generation_of(self, method: str) -> Dict[str, Any]:
        """The generation options given for ``method``: the server-wide ones, then its own."""
        return {**self.generation, **self.task_generation.get(method, {})}

    def settings(self, method: str) -> Dict[str, Any]:
        """The generation settings a task runs with (its defaults updated with the server's
        flags)."""
        settings = generation_settings(SERVED_TASKS[method].task, self.generation_of(method))
        return settings or {"decoding": "scores every candidate answer"}

    def missing_message(self, method: str) -> str:
        return (
            f"No model serves {SERVED_TASKS[method].title.lower()} in this server: start it with "
            f"`unival serve --model {method}=CHECKPOINT` (a .pt file or an `unival export` folder)."
        )

    def answer(self, method: str, media, text: Optional[str] = None) -> Dict[str, Any]:
        """The answer to one request: ``{task, <result key>, model, settings, latency_ms,
        batch_size, request}`` (``request``: this server's running count of requests, for logs
        and the page).

        Raises :class:`NoModelError` (task not served) or :class:`InputError` (this request's
        input).
        """
        task = SERVED_TASKS[method]
        with self._numbers_lock:
            number = next(self._numbers)
        if method not in self.batchers:
            raise NoModelError(self.missing_message(method))
        if media is None or (isinstance(media, (bytes, bytearray)) and not media):
            raise InputError(f"no {task.modality} was given: upload one first")
        if task.text:
            if not isinstance(text, str) or not text.strip():
                raise InputError(f"no {task.text} was given: type one")
            text = " ".join(text.split())
        else:
            text = None
        outcome = self.batchers[method].predict(media, text, timeout=self.timeout_s)
        result = outcome.result
        if method == "ground":
            result = [round(float(c), 2) for c in result]
        answer = {"task": method, task.result: result}
        if task.text:
            answer[task.text] = text
        answer.update(
            model=self.models[method].path,
            settings=self.settings(method),
            latency_ms=round(outcome.latency_s * 1000, 1),
            batch_size=outcome.batch_size,
            request=number,
        )
        return answer

    def stats(self) -> Dict[str, Any]:
        """Each served task's batching figures (see :meth:`TaskBatcher.stats`)."""
        return {method: batcher.stats() for method, batcher in self.batchers.items()}

    def close(self) -> None:
        for batcher in self.batchers.values():
            batcher.close()
