"""Which checkpoint serves which task: ``--model TASK=PATH`` flags, or the last ``make demo`` run.

Each distinct path is loaded once (a multitask checkpoint named for several tasks is one
model in memory); tasks that share a model share its lock, so one batch runs on it at a time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Optional, Sequence

import torch

from unival.hub import load
from unival.hub.generation import GENERATION_OPTIONS
from unival.models.layers.linear import parameter_count
from unival.serving.tasks import SERVED_TASKS, resolve_method

logger = logging.getLogger(__name__)

#: where ``make demo`` (``python -m unival.demo --out outputs/demo``) leaves each task's expert,
#: relative to its ``--out`` folder; the first file that exists is served
DEMO_EXPERTS: Dict[str, Sequence[str]] = {
    "caption": (
        "multitask/caption/checkpoints/checkpoint_last.pt",
        "caption/checkpoints/checkpoint_best.pt",
    ),  # the single-task run (--stages caption)
    "vqa": ("multitask/vqa/checkpoints/checkpoint_last.pt",),
    "ground": ("multitask/refcoco/checkpoints/checkpoint_last.pt",),
    "entail": ("multitask/snli_ve/checkpoints/checkpoint_last.pt",),
    "caption_video": ("media/video_caption/checkpoints/checkpoint_last.pt",),
    "video_qa": ("media/video_qa/checkpoints/checkpoint_last.pt",),
    "caption_audio": ("media/audio_caption/checkpoints/checkpoint_last.pt",),
}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


class ModelSpecError(ValueError):
    """A ``--model``/``--device``/``--dtype`` value that cannot be served (one clear line)."""


@dataclass
class ServedModel:
    """A loaded predictor serving one task: where it came from and how it runs."""

    method: str
    path: str
    predictor: object  # unival.hub.UnivalPredictor
    lock: threading.Lock
    dtype: str = "fp32"
    info: Dict[str, object] = field(default_factory=dict)

    def precision(self):
        """Autocast to ``dtype`` on CUDA (weights stay fp32, matmuls run in half precision)."""
        if self.dtype == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=DTYPES[self.dtype])

    def describe(self) -> str:
        """One line for the page: file, architecture, weights, device, dtype."""
        i = self.info
        return (
            f"`{self.path}` ({i['arch']}, {i['parameters'] / 1e6:.1f}M parameters, "
            f"{i['weights']} weights, "
            f"{i['device']}, {self.dtype})"
        )


def parse_model_specs(values: Iterable[str]) -> Dict[str, str]:
    """``["caption=a.pt", "refcoco=export/"]`` -> ``{method: path}``; bad values raise
    ModelSpecError."""
    specs: Dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise ModelSpecError(
                f"--model {value!r}: expected TASK=PATH, e.g. caption=checkpoint.pt"
            )
        try:
            method = resolve_method(name)
        except ValueError as error:
            raise ModelSpecError(f"--model {value!r}: {error}") from None
        if method in specs:
            raise ModelSpecError(
                f"--model {value!r}: {SERVED_TASKS[method].title} already has {specs[method]}"
            )
        if not os.path.exists(path):
            raise ModelSpecError(
                f"--model {value!r}: no checkpoint file or exported folder at {path}"
            )
        specs[method] = os.path.abspath(path)
    return specs


def parse_task_generation(values: Iterable[str]) -> Dict[str, Dict[str, Any]]:
    """``["caption_audio:max_len_b=20"]`` -> ``{"caption_audio": {"max_len_b": 20}}`` (checked
    names)."""

    options: Dict[str, Dict[str, Any]] = {}
    for value in values:
        name, _, setting = value.partition(":")
        key, sep, raw = setting.partition("=")
        if not name or not key or not sep or not raw:
            raise ModelSpecError(
                f"--task-generation {value!r}: expected TASK:OPTION=VALUE, e.g. caption:beam=3"
            )
        try:
            method = resolve_method(name)
        except ValueError as error:
            raise ModelSpecError(f"--task-generation {value!r}: {error}") from None
        if key not in GENERATION_OPTIONS:
            raise ModelSpecError(
                f"--task-generation {value!r}: unknown option {key!r}; "
                f"one of {', '.join(sorted(GENERATION_OPTIONS))}"
            )
        options.setdefault(method, {})[key] = _option_value(raw)
    return options


def _option_value(raw: str):
    """``"3"`` -> 3, ``"0.5"`` -> 0.5, ``"true"`` -> True; anything else stays a string."""
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            continue  # not this kind of number: try the next, else keep the text
    return raw


def demo_experts(demo_dir: str) -> Dict[str, str]:
    """``{method: checkpoint}`` of the experts a ``make demo`` run left in ``demo_dir`` (those
    present)."""
    found = {}
    for method, candidates in DEMO_EXPERTS.items():
        for relative in candidates:
            path = os.path.join(demo_dir, relative)
            if os.path.isfile(path):
                found[method] = os.path.abspath(path)
                break
    return found


def check_device(device: Optional[str], dtype: str) -> str:
    """The device to serve on (default: cuda when available); half precision needs CUDA."""
    if dtype not in DTYPES:
        raise ModelSpecError(f"--dtype {dtype!r}: one of {', '.join(DTYPES)}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelSpecError(
            f"--device {device}: CUDA is not available on this machine (use --device cpu)"
        )
    if dtype != "fp32" and not device.startswith("cuda"):
        raise ModelSpecError(f"--dtype {dtype} runs on a GPU only (--device cuda); on CPU use fp32")
    return device


def load_models(
    specs: Dict[str, str],
    *,
    device: Optional[str] = None,
    dtype: str = "fp32",
    dict_path: Optional[str] = None,
    bpe_dir: Optional[str] = None,
    ema: bool = False,
    trusted: bool = False,
    ans2label_file: Optional[str] = None,
) -> Dict[str, ServedModel]:
    """Load every checkpoint of ``specs`` once; returns ``{method: ServedModel}``."""

    device = check_device(device, dtype)
    overrides = {"ans2label_file": ans2label_file} if ans2label_file else None
    loaded: Dict[str, tuple] = {}
    served: Dict[str, ServedModel] = {}
    for method, path in specs.items():
        if path not in loaded:
            predictor = load(
                path,
                dict_path=dict_path,
                bpe_dir=bpe_dir,
                ema=ema,
                trusted=trusted,
                device=device,
                task_overrides=overrides,
            )
            loaded[path] = (predictor, threading.Lock())
        predictor, lock = loaded[path]
        info = {
            "arch": getattr(predictor.model.cfg, "_name", type(predictor.model).__name__),
            "parameters": parameter_count(predictor.model),
            "weights": predictor.assets.weights,
            "device": str(predictor.device),
            "checkpoint_task": predictor.task_name,
        }
        served[method] = ServedModel(method, path, predictor, lock, dtype, info)
        logger.info("%s: %s", SERVED_TASKS[method].title, served[method].describe())
    return served
