"""One request queue per task: requests that arrive together run as one ``iter_predict`` batch.

A worker thread takes the first waiting request, then gathers more until the batch holds
``max_batch_size`` requests or ``max_wait_s`` has passed since it started gathering; while a
batch runs, new requests wait in the queue, so under load the next batch fills at once.
Results go back through one ``concurrent.futures.Future`` per request.

A request whose upload cannot be decoded fails alone: the predictor runs with ``skip_bad``
(the batch's other inputs are still predicted), and if a batch raises anyway, its requests
are run again one at a time so the error lands on the request that caused it.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from unival.hub.predictor import PredictionError
from unival.serving.models import ServedModel

logger = logging.getLogger(__name__)
_OBJECT_REPR = re.compile(r" ?<[\w.]+ object at 0x[0-9a-f]+>")


class InputError(ValueError):
    """A request's own input could not be used; the message is shown to its sender."""


@dataclass
class Outcome:
    """A request's result and how it was served."""

    result: Any
    batch_size: int  # requests in the batch that served it
    queued_s: float  # from submission to the start of its batch
    latency_s: float  # from submission to the result


@dataclass
class _Request:
    media: Any
    text: Optional[str]
    future: Future
    submitted: float


class TaskBatcher:
    """Batches one task's requests onto its model (see the module docstring)."""

    def __init__(
        self,
        model: ServedModel,
        generation: Optional[Dict[str, Any]] = None,
        max_batch_size: int = 8,
        max_wait_s: float = 0.01,
    ):
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self.model = model
        self.method = model.method
        self.generation = dict(generation or {})
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self._queue: "queue.Queue[Optional[_Request]]" = queue.Queue()
        self._stats_lock = threading.Lock()
        self._batch_sizes: Counter = Counter()
        self._failed = 0
        self._worker = threading.Thread(
            target=self._loop, name=f"unival-batcher-{self.method}", daemon=True
        )
        self._worker.start()

    # ------------------------------------------------------------------ public
    def submit(self, media, text: Optional[str] = None) -> Future:
        """Queue one input (path or bytes, plus its text for the text tasks); returns its future."""
        future: Future = Future()
        self._queue.put(_Request(media, text, future, time.monotonic()))
        return future

    def predict(
        self, media, text: Optional[str] = None, timeout: Optional[float] = None
    ) -> Outcome:
        """:meth:`submit` and wait; raises :class:`InputError` for an unusable input."""
        return self.submit(media, text).result(timeout=timeout)

    def stats(self) -> Dict[str, Any]:
        """Requests served, batches run, the largest batch and the count of each batch size."""
        with self._stats_lock:
            sizes = dict(sorted(self._batch_sizes.items()))
            failed = self._failed
        return {
            "requests": sum(size * count for size, count in sizes.items()),
            "batches": sum(sizes.values()),
            "largest_batch": max(sizes, default=0),
            "batch_sizes": {str(size): count for size, count in sizes.items()},
            "failed": failed,
            "max_batch_size": self.max_batch_size,
            "max_wait_ms": round(self.max_wait_s * 1000, 1),
        }

    def close(self) -> None:
        """Stop the worker once the queued requests are served."""
        self._queue.put(None)
        self._worker.join(timeout=60)

    # ------------------------------------------------------------------ worker
    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.max_wait_s
            stop = False
            while len(batch) < self.max_batch_size:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._serve(batch)
            if stop:
                return

    def _serve(self, batch: List[_Request]) -> None:
        started = time.monotonic()
        with self._stats_lock:
            self._batch_sizes[len(batch)] += 1
        try:
            results = self._predict(batch)
        except Exception:  # an input the predictor could not skip: find it by running each alone
            if len(batch) == 1:
                logger.exception("%s: the request failed", self.method)
                self._fail(batch[0], "the model could not process this input (see the server log)")
                return
            logger.warning(
                "%s: a batch of %d failed; running its requests one at a time",
                self.method,
                len(batch),
            )
            for request in batch:
                self._serve([request])
            return
        finished = time.monotonic()
        for request, result in zip(batch, results):
            if isinstance(result, PredictionError):
                self._fail(request, describe_failure(result.reason))
                continue
            request.future.set_result(
                Outcome(
                    result, len(batch), started - request.submitted, finished - request.submitted
                )
            )

    def _predict(self, batch: List[_Request]) -> List[Any]:
        """One ``iter_predict`` call over the batch; unreadable inputs come back as
        PredictionError."""
        task = self.model.predictor
        media = [r.media for r in batch]
        texts = [r.text for r in batch] if any(r.text is not None for r in batch) else None
        results: List[Any] = [None] * len(batch)
        with self.model.lock, self.model.precision():
            for index, result in task.iter_predict(
                self.method,
                media,
                texts,
                batch_size=len(batch),
                generation=self.generation,
                skip_bad=True,
            ):
                results[index] = result
        return results

    def _fail(self, request: _Request, message: str) -> None:
        with self._stats_lock:
            self._failed += 1
        request.future.set_exception(InputError(message))


def describe_failure(reason: str) -> str:
    """The predictor's reason for a skipped input, without the in-memory row's position
    (``<input>:3 column 1 (image): ...`` names the row inside the batch, not the request)."""
    head, sep, tail = reason.partition("): ")
    message = tail if sep and head.startswith("<input>") else reason
    return _OBJECT_REPR.sub("", message).replace(
        " )", ")"
    )  # "cannot identify image file <_io.BytesIO ...>"
