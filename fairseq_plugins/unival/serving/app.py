"""The page: a Gradio Blocks app with one tab per task (upload, text, button -> answer).

Each tab shows its model and generation settings, takes an upload (and a question, expression
or hypothesis), and answers with the caption / answer / box, the settings used, the latency
and the size of the batch the request ran in. Grounding also shows the box drawn on the image.
A tab whose task has no model says so. Every button is also a Gradio API route named after
the task (``gradio_client.Client(url).predict(..., api_name="/caption")``).

Errors: an upload that cannot be used raises ``gr.Error`` with one line naming the file and
the reason; only that request fails.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Callable, Dict, List, Optional

import gradio as gr
from PIL import Image, ImageDraw

from unival.serving.batching import InputError
from unival.serving.service import Service
from unival.serving.tasks import SERVED_TASKS, ServedTask

logger = logging.getLogger(__name__)

BOX_COLOUR = (255, 0, 0)
INTRO = (
    "# UnIVAL\nOne encoder-decoder for image, video, audio and text tasks. "
    "Pick a task, upload a file "
    "(or click an example), press the button. The same tasks answer JSON at `POST /api/<task>` "
    "(see `GET /api/info`)."
)


def checked_image(**kwargs) -> gr.Image:
    """``gr.Image`` whose unreadable uploads give one clear line instead of a decoder traceback.

    The instance's ``preprocess`` is wrapped rather than subclassed: Gradio writes a ``.pyi``
    stub beside the source file of every component subclass.
    """
    image = gr.Image(**kwargs)
    preprocess = image.preprocess

    def checked(payload):
        try:
            return preprocess(payload)
        # PIL raises several types for a broken file; all mean the same to the person uploading it
        except Exception as error:
            name = getattr(payload, "orig_name", None) or "the upload"
            reason = upload_message(str(error), getattr(payload, "path", None), name)
            raise gr.Error(f"{name} is not a readable image ({reason})") from None

    image.preprocess = checked
    return image


def upload_message(message: str, path: Optional[str], name: str) -> str:
    """``message`` naming the upload by its file name, not by Gradio's cache path."""
    if path:
        message = message.replace(f"file {path} ", f"{name} ").replace(str(path), name)
    return message


def draw_box(image_path: str, box: List[float]) -> Image.Image:
    """The image with ``box`` ``[x0, y0, x1, y1]`` (pixels) outlined in red."""
    with Image.open(image_path) as img:
        img = img.convert("RGB")
    width = max(2, round(min(img.size) / 64))
    # an untrained model may put x1 left of x0: draw the rectangle the two corners span,
    # inside the image
    xs = sorted(min(max(round(c), 0), img.width - 1) for c in (box[0], box[2]))
    ys = sorted(min(max(round(c), 0), img.height - 1) for c in (box[1], box[3]))
    ImageDraw.Draw(img).rectangle([xs[0], ys[0], xs[1], ys[1]], outline=BOX_COLOUR, width=width)
    return img


def format_result(task: ServedTask, answer: Dict) -> str:
    value = answer[task.result]
    return json.dumps(value) if task.result == "box" else str(value)


def format_details(answer: Dict) -> str:
    settings = ", ".join(f"{k}={v}" for k, v in answer["settings"].items())
    return (
        f"**Request** {answer['request']} · **latency** {answer['latency_ms']:.0f} ms "
        f"(batch of {answer['batch_size']})  \n"
        f"**Settings** {settings}  \n**Model** `{answer['model']}`"
    )


def _handler(service: Service, task: ServedTask) -> Callable:
    """The button's function: (upload path[, text]) -> (result[, drawn image], details)."""

    def run(media: Optional[str], text: Optional[str] = None):
        try:
            answer = service.answer(task.method, media, text)
        except InputError as error:
            name = os.path.basename(media) if isinstance(media, str) else f"the {task.modality}"
            message = upload_message(str(error), media, name)
            raise gr.Error(message if message.startswith(name) else f"{name}: {message}") from None
        outputs = [format_result(task, answer)]
        if task.method == "ground":
            outputs.append(draw_box(media, answer["box"]))
        return tuple(outputs + [format_details(answer)])

    if task.text:
        return run
    return lambda media: run(media)


def _media_input(task: ServedTask):
    label = f"{task.modality.capitalize()} (upload)"
    elem_id = f"{task.method}-input"
    if task.modality == "image":
        return checked_image(
            type="filepath",
            image_mode=None,
            sources=["upload"],
            label=label,
            elem_id=elem_id,
            height=280,
        )
    if task.modality == "video":
        return gr.Video(sources=["upload"], label=label, elem_id=elem_id, height=280)
    return gr.Audio(type="filepath", sources=["upload"], label=label, elem_id=elem_id)


def _task_tab(service: Service, task: ServedTask, examples: Dict[str, List[list]]) -> None:
    if task.method not in service.models:
        gr.Markdown(service.missing_message(task.method), elem_id=f"{task.method}-missing")
        return
    model = service.models[task.method]
    settings = ", ".join(f"{k}={v}" for k, v in service.settings(task.method).items())
    gr.Markdown(
        f"**Model** {model.describe()}  \n**Settings** {settings}", elem_id=f"{task.method}-model"
    )
    with gr.Row():
        with gr.Column():
            media = _media_input(task)
            inputs = [media]
            if task.text:
                inputs.append(
                    gr.Textbox(label=task.text.capitalize(), elem_id=f"{task.method}-text", lines=1)
                )
            button = gr.Button(task.button, variant="primary", elem_id=f"{task.method}-run")
        with gr.Column():
            outputs = [
                gr.Textbox(
                    label=task.result.capitalize(),
                    elem_id=f"{task.method}-result",
                    interactive=False,
                )
            ]
            if task.method == "ground":
                outputs.append(
                    gr.Image(
                        label="Box on the image",
                        format="png",
                        type="pil",
                        interactive=False,
                        elem_id="ground-drawn",
                        height=280,
                    )
                )
            outputs.append(gr.Markdown(elem_id=f"{task.method}-details"))
    if examples.get(task.method):
        gr.Examples(
            examples=[row[: len(inputs)] for row in examples[task.method]],
            inputs=inputs,
            label="Examples (toy world)",
        )
    # no concurrency limit: requests must reach the task's batcher together to be batched
    button.click(
        _handler(service, task),
        inputs=inputs,
        outputs=outputs,
        api_name=task.method,
        concurrency_limit=None,
    )


def build_page(service: Service, examples: Optional[Dict[str, List[list]]] = None) -> gr.Blocks:
    """The Gradio Blocks of the page over ``service`` (``examples``:
    ``{method: [[file, text?]]}``)."""
    examples = examples or {}
    with gr.Blocks(title="UnIVAL") as page:
        gr.Markdown(INTRO)
        with gr.Tabs():
            for method, task in SERVED_TASKS.items():
                title = task.title if method in service.models else f"{task.title} (no model)"
                with gr.Tab(title, id=method, elem_id=f"tab-{method}"):
                    _task_tab(service, task, examples)
    return page


def offline_theme() -> gr.themes.Theme:
    """The default look with system fonts only, so that the page never asks for a web font."""
    system = ["ui-sans-serif", "system-ui", "sans-serif"]
    return gr.themes.Default(font=system, font_mono=["ui-monospace", "monospace"])
