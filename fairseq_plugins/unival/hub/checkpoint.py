"""Read UnIVAL checkpoints (``.pt``, fairseq / released layout) into a model and a tokenizer.

A released checkpoint (fairseq trainer layout) is a dict with ``args`` (None), ``cfg``
(groups ``model`` -- an ``argparse.Namespace`` -- ``task``, ``common``, ...), ``model`` (the
state dict) and ``extra_state`` (optionally ``ema``). Files written by ``fairseq-train`` here
have the same layout with ``cfg.model`` a plain dict. Legacy files hold everything in ``args``.

Loading steps: allow-listed weights-only unpickling (:func:`unival.safe_load.load_checkpoint_file`,
code in a pickle is refused unless ``trusted``), model/architecture names through
:mod:`unival.hub.names`, weights = ``model`` or ``extra_state["ema"]`` (fp32), the audio
``logmel_extractor`` entries dropped (:func:`unival.models.unival.drop_logmel_keys`), and a
strict load: every model entry must come from the file except the buffers the config fully
determines, and the file may hold nothing the model lacks.
"""

from __future__ import annotations

import argparse
import logging
import os
from types import SimpleNamespace
from typing import Any, Dict, Mapping, Optional, Tuple

import torch
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from unival.hub.names import ARCH_ALIAS_DEFAULTS, resolve_arch, resolve_task
from unival.models.config import UnivalConfig, resolve_config
from unival.models.missing_weights import MissingWeightsError, rebuildable
from unival.models.unival import (
    TOKEN_EMBEDDING_KEYS,
    UnivalModel,
    drop_logmel_keys,
)
from unival.safe_load import load_checkpoint_file, select_weights

logger = logging.getLogger(__name__)


class CheckpointMismatchError(RuntimeError):
    """The checkpoint's weights do not fit the model its config describes (strict loading)."""


def read_checkpoint(path: str | os.PathLike, trusted: bool = False) -> Dict[str, Any]:
    """The checkpoint dict of ``path`` (refuses pickled code unless ``trusted``)."""
    state = load_checkpoint_file(os.fspath(path), trusted=trusted)
    if not isinstance(state, Mapping) or state.get("model") is None:
        keys = sorted(state) if isinstance(state, Mapping) else type(state).__name__
        raise ValueError(
            f"{path} is not a fairseq/UnIVAL checkpoint (no 'model' entry; top level: {keys})"
        )
    return dict(state)


def plain_dict(cfg: Any) -> Dict[str, Any]:
    """A config group (Namespace, DictConfig, dict or None) as a plain ``dict``."""
    if cfg is None:
        return {}
    if isinstance(cfg, argparse.Namespace):
        return dict(vars(cfg))
    if isinstance(cfg, DictConfig):
        return dict(OmegaConf.to_container(cfg, resolve=False))
    if isinstance(cfg, Mapping):
        return dict(cfg)
    raise TypeError(f"cannot read a config group from {type(cfg).__name__}")


def _resolved(cfg: Mapping[str, Any]) -> Dict[str, Any]:
    """``cfg`` with fairseq's ``${group.field}`` interpolations resolved where possible."""
    try:
        container = OmegaConf.create(dict(cfg), flags={"allow_objects": True})
        return dict(OmegaConf.to_container(container, resolve=True))
    except OmegaConfBaseException as error:
        logger.warning("checkpoint config interpolations left unresolved (%s)", error)
        return dict(cfg)


def checkpoint_groups(state: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``(model config, task config)`` as plain dicts; the task dict carries ``_name``."""
    cfg = state.get("cfg")
    if cfg is not None:
        cfg = _resolved(plain_dict(cfg))
        model, task = plain_dict(cfg.get("model")), plain_dict(cfg.get("task"))
        return model, task
    args = state.get("args")
    if args is not None:  # legacy: one Namespace holds the model and the task
        values = plain_dict(args)
        task = dict(values, _name=values.get("task"))
        return values, task
    raise ValueError("checkpoint has neither 'cfg' nor 'args': cannot tell which model it holds")


def model_config(saved: Any) -> UnivalConfig:
    """A checkpoint's model group (Namespace, dict, DictConfig) -> complete :class:`UnivalConfig`
    (official names resolved, :mod:`unival.hub.names`)."""
    values = plain_dict(saved)
    given = values.get("arch") or values.get("_name")
    arch = resolve_arch(given)
    for key, value in ARCH_ALIAS_DEFAULTS.get(given, {}).items():
        values.setdefault(key, value)
    if arch is None:
        raise ValueError("the checkpoint's model config names no architecture (arch/_name)")
    values["arch"] = values["_name"] = arch
    return resolve_config(argparse.Namespace(**values))


def task_name_of(saved_task: Mapping[str, Any]) -> Optional[str]:
    """The registered (alias-resolved) task name of a checkpoint's task group."""
    return resolve_task(saved_task.get("_name") or saved_task.get("task"))


def select_state_dict(
    state: Mapping[str, Any], ema: bool, path: str, ema_option: str = "ema=True"
) -> Dict[str, torch.Tensor]:
    """``model`` or, with ``ema``, ``extra_state["ema"]`` cast to fp32 (``--ema-eval``)."""
    weights, _ = select_weights(state, ema=ema, path=path, ema_option=ema_option)
    if ema:
        weights = {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}
    return weights


def build_unival_model(cfg: UnivalConfig, dictionary) -> UnivalModel:
    """The model of ``cfg`` over ``dictionary`` (no task needed), in eval mode."""
    holder = SimpleNamespace(source_dictionary=dictionary, target_dictionary=dictionary)
    return UnivalModel.build_model(cfg, holder).eval()


def load_weights(
    model: UnivalModel,
    state_dict: Mapping[str, torch.Tensor],
    strict: bool = True,
    source: str = "<checkpoint>",
) -> None:
    """Load ``state_dict`` into ``model``; strict: nothing missing, nothing unexpected, same
    vocabulary."""
    state_dict = dict(state_dict)
    drop_logmel_keys(state_dict)
    own = model.state_dict()
    missing = sorted(k for k in own if k not in state_dict and not rebuildable(k))
    embedding = state_dict.get(TOKEN_EMBEDDING_KEYS[0])
    vocab = len(model.encoder.dictionary)
    if strict:
        if missing:
            raise CheckpointMismatchError(str(MissingWeightsError(missing, source)))
        if embedding is not None and embedding.size(0) != vocab:
            raise CheckpointMismatchError(
                f"{source}: the checkpoint's vocabulary has {embedding.size(0)} entries, "
                f"the dictionary {vocab}: pass the dict.txt the model was trained with "
                f"(BART's for released checkpoints)"
            )
    elif missing:
        logger.warning(
            "%s: %d model entries keep their initial values, e.g. %s",
            source,
            len(missing),
            missing[:5],
        )
    model.cfg.strict = strict
    model.allow_missing_weights = not strict  # a non-strict load asked for fresh weights
    try:
        model.load_state_dict(state_dict, strict=strict)
    except RuntimeError as error:
        raise CheckpointMismatchError(f"{source}: {error}") from None
