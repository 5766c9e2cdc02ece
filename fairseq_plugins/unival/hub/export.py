"""A checkpoint -> a folder that loads without unpickling (``unival export MODEL OUT_DIR``).

The folder holds

* ``model.safetensors``: the state dict (tied tensors stored once; the other names are in the
  file's metadata ``tied`` as alias -> stored name). The buffers the config fully determines
  (relative-position buckets, ``image_position_idx``) are left out: the model recomputes them.
* ``config.json``: the complete model config, the task config (machine paths removed, the
  candidate answers inlined as ``ans2label_dict``), the tokenizer's code/bin counts and where
  the weights came from;
* ``dict.txt``, ``encoder.json``, ``vocab.bpe``: the dictionary and GPT-2 BPE files, copied.

:func:`read_exported` loads it back (``unival.hub.load(folder)``); the round trip is bit-exact.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from typing import Any, Dict, Optional

import torch

from unival.data.vqa_dataset import load_candidate_answers
from unival.hub.checkpoint import build_unival_model, load_weights, model_config
from unival.hub.predictor import MACHINE_FIELDS, ModelAssets, UnivalPredictor
from unival.models.unival import DETERMINISTIC_BUFFERS
from unival.tokenizer import UnivalTokenizer

logger = logging.getLogger(__name__)

FORMAT = "unival-export"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
ASSET_FILES = ("dict.txt", "encoder.json", "vocab.bpe")


def _jsonable(value: Any) -> Any:
    """Plain JSON values; enum-like config values become their string; others -> ValueError."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(type(value), type) and hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    raise ValueError(f"{type(value).__name__} is not a JSON config value")


def model_section(cfg) -> Dict[str, Any]:
    """Every :class:`UnivalConfig` field (complete, so no architecture defaults are needed)
    + ``_name``."""
    section = {
        name: _jsonable(getattr(cfg, name)) for name in cfg.__dataclass_fields__ if name != "_name"
    }
    section["_name"] = cfg._name
    return section


def task_section(predictor: UnivalPredictor) -> Dict[str, Any]:
    """The checkpoint's task config without machine paths, candidate answers inlined."""

    section: Dict[str, Any] = {"_name": predictor.task_name}
    for key, value in predictor.saved_task.items():
        if key in MACHINE_FIELDS or key == "_name":
            continue
        try:
            section[key] = _jsonable(value)
        except ValueError:
            logger.warning(
                "task option %s (%s) is not exportable and is left out", key, type(value).__name__
            )
    answers_file = section.pop("ans2label_file", None)
    if answers_file:
        if os.path.isfile(answers_file):
            answers = load_candidate_answers(answers_file)
            section["ans2label_dict"] = json.dumps({a: i for i, a in enumerate(answers)})
        else:
            logger.warning(
                "candidate answers %s not found: the export has none (pass ans2label_file when "
                "loading it)",
                answers_file,
            )
    return section


def exportable_state(model) -> tuple:
    """``(tensors, tied)``: one contiguous copy per distinct tensor, alias -> stored name."""
    tensors: Dict[str, torch.Tensor] = {}
    tied: Dict[str, str] = {}
    seen: Dict[tuple, str] = {}
    for name, tensor in model.state_dict().items():
        if name in DETERMINISTIC_BUFFERS:
            continue
        key = (
            tensor.untyped_storage().data_ptr(),
            tensor.storage_offset(),
            tuple(tensor.shape),
            tuple(tensor.stride()),
            tensor.dtype,
        )
        if key in seen:
            tied[name] = seen[key]
            continue
        seen[key] = name
        tensors[name] = tensor.detach().to("cpu").clone().contiguous()
    return tensors, tied


def export_model(
    predictor: UnivalPredictor, out_dir: str | os.PathLike, overwrite: bool = False
) -> str:
    """Write ``predictor``'s model as an export folder; returns the folder path."""
    from safetensors.torch import save_file

    out_dir = os.fspath(out_dir)
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise FileExistsError(
            f"{out_dir} exists and is not empty (pass overwrite=True / --overwrite)"
        )
    os.makedirs(out_dir, exist_ok=True)
    tensors, tied = exportable_state(predictor.model)
    save_file(
        tensors,
        os.path.join(out_dir, WEIGHTS_FILE),
        metadata={"format": FORMAT, "tied": json.dumps(tied)},
    )
    tokenizer = predictor.tokenizer
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": model_section(predictor.model.cfg),
        "task": task_section(predictor),
        "tokenizer": {"num_codes": tokenizer.num_codes, "num_bins": tokenizer.num_bins},
        "weights": {
            "file": WEIGHTS_FILE,
            "source": predictor.assets.source,
            "selected": predictor.assets.weights,
            "recomputed_buffers": [
                b for b in DETERMINISTIC_BUFFERS if b in predictor.model.state_dict()
            ],
        },
    }
    with open(os.path.join(out_dir, CONFIG_FILE), "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=1)
    assets = predictor.assets
    for source, name in zip((assets.dict_path, assets.encoder_json, assets.vocab_bpe), ASSET_FILES):
        shutil.copyfile(source, os.path.join(out_dir, name))
    logger.info(
        "exported %s (%d tensors, %d tied names) to %s",
        assets.source,
        len(tensors),
        len(tied),
        out_dir,
    )
    return out_dir


def read_exported(
    folder: str | os.PathLike,
    strict: bool = True,
    device: Optional[str] = None,
    task_overrides: Optional[Dict[str, Any]] = None,
) -> UnivalPredictor:
    """Load an export folder (JSON + safetensors only: no unpickling)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    folder = os.path.abspath(os.fspath(folder))
    config_path = os.path.join(folder, CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise FileNotFoundError(f"{folder} is not an exported UnIVAL model (no {CONFIG_FILE})")
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    if config.get("format") != FORMAT or config.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{config_path}: format {config.get('format')!r} v{config.get('format_version')!r}, "
            f"expected {FORMAT!r} v{FORMAT_VERSION}"
        )
    dict_path, encoder_json, vocab_bpe = (os.path.join(folder, name) for name in ASSET_FILES)
    tokenizer = UnivalTokenizer.from_files(
        dict_path, encoder_json, vocab_bpe, **config["tokenizer"]
    )
    model = build_unival_model(model_config(config["model"]), tokenizer.dictionary)
    weights_path = os.path.join(folder, config["weights"]["file"])
    state = load_file(weights_path)
    with safe_open(weights_path, framework="pt") as handle:
        tied = json.loads((handle.metadata() or {}).get("tied", "{}"))
    for alias, stored in tied.items():
        state[alias] = state[stored]
    load_weights(model, state, strict=strict, source=weights_path)
    assets = ModelAssets(
        dict_path,
        encoder_json,
        vocab_bpe,
        source=folder,
        weights=config["weights"].get("selected", "model"),
    )
    task = dict(config["task"])
    return UnivalPredictor(
        model,
        tokenizer,
        assets,
        task_name=task.get("_name"),
        saved_task=task,
        task_overrides=task_overrides,
        device=device,
    )
