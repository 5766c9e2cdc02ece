"""The JSON HTTP API beside the page: ``POST /api/<task>`` for every task, plus info and stats.

A request body names the upload by its modality and carries the file's bytes in base64, with
the task's text where it has one::

    POST /api/caption  {"image": "<base64 of the file>"}
    POST /api/vqa      {"image": "...", "question": "what colour is the big shape?"}
    POST /api/caption_video  {"video": "..."}      POST /api/caption_audio  {"audio": "..."}

The answer is the service's (``caption``/``answer``/``box``, ``settings``, ``latency_ms``,
``batch_size``, ``model``); a bad request gets ``{"error": "..."}`` with status 400, a task
without a model 503. The routes are plain functions run in the server's thread pool, each
waiting on its request's batch.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Dict

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from unival.serving.batching import InputError
from unival.serving.service import NoModelError, Service
from unival.serving.tasks import SERVED_TASKS, ServedTask


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def decode_upload(payload: Dict[str, Any], task: ServedTask) -> bytes:
    """The base64 file of a request body -> its bytes; a missing or bad field raises InputError."""
    expected = [task.modality] + ([task.text] if task.text else [])
    unknown = sorted(set(payload) - set(expected))
    if unknown:
        raise InputError(f"unknown field(s) {unknown}; /api/{task.method} takes {expected}")
    value = payload.get(task.modality)
    if not isinstance(value, str) or not value:
        raise InputError(
            f"'{task.modality}' is required: the {task.modality} file's bytes in base64"
        )
    try:
        padded = value + "=" * (-len(value) % 4)
        altchars = b"-_" if ("-" in value or "_" in value) else None
        return base64.b64decode(padded, altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"'{task.modality}' is not valid base64") from None


def build_api(service: Service) -> APIRouter:
    """The ``/api`` routes over ``service``."""
    router = APIRouter(prefix="/api")

    @router.get("/info")
    def info() -> Dict[str, Any]:
        """Every task: its route, inputs, result key and model (None when not served)."""
        return {
            "tasks": {
                method: {
                    "title": task.title,
                    "route": f"/api/{method}",
                    "input": task.modality,
                    "text": task.text,
                    "result": task.result,
                    "model": service.models[method].path if method in service.models else None,
                    "settings": service.settings(method),
                }
                for method, task in SERVED_TASKS.items()
            }
        }

    @router.get("/stats")
    def stats() -> Dict[str, Any]:
        """Requests, batches and batch sizes per served task since the server started."""
        return service.stats()

    for task in SERVED_TASKS.values():
        router.add_api_route(
            f"/{task.method}",
            _task_route(service, task),
            methods=["POST"],
            summary=f"{task.title}: {task.modality}" + (f" + {task.text}" if task.text else ""),
        )
    return router


def _task_route(service: Service, task: ServedTask):
    def route(payload: Dict[str, Any] = Body(...)):
        try:
            media = decode_upload(payload, task)
            return service.answer(task.method, media, payload.get(task.text) if task.text else None)
        except InputError as error:
            return _error(400, f"{task.method}: {error}")
        except NoModelError as error:
            return _error(503, str(error))

    route.__name__ = f"predict_{task.method}"
    return route
