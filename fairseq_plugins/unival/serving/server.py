"""Put the page and the JSON API on one FastAPI app and serve it with uvicorn (loopback default).

Nothing on the page reaches for the internet: Gradio's analytics and Hugging Face calls are
switched off through the environment before Gradio is imported, the theme uses system fonts,
and server-side rendering (a Node process) is off.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

logger = logging.getLogger(__name__)

#: set before ``import gradio``: no analytics, no Hugging Face Hub calls, no telemetry
OFFLINE_ENVIRONMENT = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_SSR_MODE": "False",
    "GRADIO_MCP_SERVER": "False",
}


def go_offline() -> None:
    """Apply :data:`OFFLINE_ENVIRONMENT` (values already set by the user are kept)."""
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


@dataclass
class ServeConfig:
    """What ``unival serve`` runs: models per task (``{method: path}``) and how to serve them."""

    models: Dict[str, str]
    host: str = "127.0.0.1"
    port: int = 7860
    device: Optional[str] = None
    dtype: str = "fp32"
    dict_path: Optional[str] = None
    bpe_dir: Optional[str] = None
    ans2label_file: Optional[str] = None
    ema: bool = False
    trusted: bool = False
    generation: Dict[str, Any] = field(default_factory=dict)
    task_generation: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    max_batch_size: int = 8
    batch_wait_ms: float = 10.0
    examples: bool = True


def build_app(service, examples: Optional[Dict] = None, allowed_paths=()):
    """The FastAPI app: ``/api/...`` routes, then the Gradio page at ``/``."""
    go_offline()
    # gradio reads its network settings when imported: go_offline() must come first
    import gradio as gr
    from fastapi import FastAPI

    from unival.serving.api import build_api
    from unival.serving.app import build_page, offline_theme

    app = FastAPI(title="UnIVAL", docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.include_router(build_api(service))  # before the page's catch-all mount at "/"
    page = build_page(service, examples)
    return gr.mount_gradio_app(
        app,
        page,
        path="/",
        theme=offline_theme(),
        ssr_mode=False,
        mcp_server=False,
        show_error=True,
        allowed_paths=list(allowed_paths),
    )


def serve(config: ServeConfig) -> int:
    """Load the models, build the app and serve until interrupted; returns the exit status."""
    go_offline()
    # after go_offline(), for the same reason as in build_app
    import uvicorn

    from unival.serving.examples import default_folder, write_examples
    from unival.serving.models import load_models
    from unival.serving.service import Service

    models = load_models(
        config.models,
        device=config.device,
        dtype=config.dtype,
        dict_path=config.dict_path,
        bpe_dir=config.bpe_dir,
        ema=config.ema,
        trusted=config.trusted,
        ans2label_file=config.ans2label_file,
    )
    service = Service(
        models,
        config.generation,
        config.task_generation,
        max_batch_size=config.max_batch_size,
        max_wait_s=config.batch_wait_ms / 1000,
    )
    # a fixed folder, not a temporary one: uvicorn ends the process with the signal that stopped
    # it, so nothing after uvicorn.run could remove a temporary folder
    folder = default_folder()
    examples = write_examples(folder) if config.examples else {}
    app = build_app(service, examples, allowed_paths=[folder])
    url = f"http://{config.host}:{config.port}"
    logger.info(
        "serving %s on %s (page), %s/api/<task> (JSON); batches of up to %d, waiting %.0f ms",
        ", ".join(models) or "no task",
        url,
        url,
        config.max_batch_size,
        config.batch_wait_ms,
    )
    try:
        uvicorn.run(app, host=config.host, port=config.port, log_level="warning")
    finally:
        service.close()
    return 0
