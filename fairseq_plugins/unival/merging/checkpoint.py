"""fairseq checkpoint files in and out of a merge, with provenance.

* :func:`load_checkpoint` reads a file with :func:`unival.safe_load.load_checkpoint_file`
  (allow-listed unpickling unless ``trusted``) and selects the weights to merge: the
  checkpoint's ``model`` or, with ``ema=True``, the EMA weights ``extra_state["ema"]``.
* :func:`build_merged_checkpoint` makes the output: the *template* checkpoint's non-model
  fields (``cfg``, ``optimizer_history``, ``extra_state``...) with the merged ``model``.
  Dropped: ``last_optimizer_state`` (the optimizer state of one input means nothing for the
  merge) and ``extra_state["ema"]`` / ``["ema_fp32_params"]`` (the template's EMA is not the
  merged model; ``--ema-eval`` on the output fails loudly instead of evaluating it).
  ``extra_state["merge"]`` holds the merge metadata (:func:`merge_metadata`): method, recipe,
  inputs (path, sha256, weights used, num_updates, and their own ``merge`` entry when an input
  is itself a merge), hyperparameters, the key rules applied, and tool versions. It holds only
  plain str/int/float/bool/list/dict values, so weights-only loading reads it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import torch

from unival.hub.model_keys import check_complete
from unival.safe_load import load_checkpoint_file, select_weights

logger = logging.getLogger(__name__)

METADATA_FORMAT = 1
EMA_FIELDS = ("ema", "ema_fp32_params")
DROPPED_FIELDS = ("last_optimizer_state",)
TOOL_DISTRIBUTION = "unival-toolkit"


@dataclass
class LoadedCheckpoint:
    """One input: the selected ``weights`` and what provenance needs.

    ``fields`` holds the other top-level entries (minus optimizer state and EMA) only when
    loaded with ``keep_fields=True`` (the template of the output); otherwise it is empty.
    """

    path: str
    weights: Dict[str, torch.Tensor]
    source: str
    sha256: str
    num_updates: Optional[int] = None
    provenance: Optional[dict] = None
    fields: Dict[str, Any] = field(default_factory=dict)

    def describe(self, role: str) -> dict:
        """The input's record in the merge metadata."""
        record = {
            "role": role,
            "path": self.path,
            "sha256": self.sha256,
            "weights": self.source,
            "num_updates": self.num_updates,
        }
        if self.provenance is not None:
            record["merge"] = self.provenance
        return record


def file_sha256(path: str, chunk_bytes: int = 1 << 24) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _num_updates(checkpoint: Mapping[str, Any]) -> Optional[int]:
    history = checkpoint.get("optimizer_history") or []
    if history and isinstance(history[-1], Mapping) and "num_updates" in history[-1]:
        return int(history[-1]["num_updates"])
    return None


def template_fields(checkpoint: Mapping[str, Any]) -> Dict[str, Any]:
    """Top-level fields kept in a merged checkpoint: all but model, optimizer state and EMA."""
    fields = {
        key: value
        for key, value in checkpoint.items()
        if key != "model" and key not in DROPPED_FIELDS
    }
    extra = fields.get("extra_state")
    if isinstance(extra, Mapping):
        fields["extra_state"] = {
            key: value for key, value in extra.items() if key not in EMA_FIELDS and key != "merge"
        }
    return fields


def load_checkpoint(
    path: str, *, ema: bool = False, trusted: bool = False, keep_fields: bool = False
) -> LoadedCheckpoint:
    """Load ``path`` and select its ``model`` (or EMA) weights; see :class:`LoadedCheckpoint`."""
    path = os.fspath(path)
    checkpoint = load_checkpoint_file(path, trusted=trusted)
    weights, source = select_weights(checkpoint, ema, path)
    check_complete(checkpoint, weights, path)  # a merge of incomplete files is incomplete too
    extra = checkpoint.get("extra_state")
    provenance = extra.get("merge") if isinstance(extra, Mapping) else None
    logger.info("loaded %s (%d %s tensors)", path, len(weights), source)
    return LoadedCheckpoint(
        path=path,
        weights=weights,
        source=source,
        sha256=file_sha256(path),
        num_updates=_num_updates(checkpoint),
        provenance=provenance,
        fields=template_fields(checkpoint) if keep_fields else {},
    )


def tool_version() -> str:
    try:
        return f"{TOOL_DISTRIBUTION} {importlib.metadata.version(TOOL_DISTRIBUTION)}"
    except importlib.metadata.PackageNotFoundError:
        logger.warning("%s is not installed; recording its version as unknown", TOOL_DISTRIBUTION)
        return f"{TOOL_DISTRIBUTION} unknown"


def merge_metadata(
    method: str,
    recipe: str,
    inputs: Sequence[Tuple[str, LoadedCheckpoint]],
    hyperparameters: Mapping[str, Any],
    notes: Mapping[str, Any],
    template: LoadedCheckpoint,
) -> dict:
    """The ``extra_state["merge"]`` entry; ``inputs`` are ``(role, checkpoint)`` pairs."""
    return {
        "format": METADATA_FORMAT,
        "method": method,
        "recipe": recipe,
        "inputs": [checkpoint.describe(role) for role, checkpoint in inputs],
        "template": template.path,
        "hyperparameters": dict(hyperparameters),
        "rules": dict(notes),
        "tool": tool_version(),
        "torch": str(torch.__version__),  # TorchVersion is not on the load allow-list
    }


def build_merged_checkpoint(
    template: LoadedCheckpoint, merged: Mapping[str, torch.Tensor], metadata: Mapping[str, Any]
) -> Dict[str, Any]:
    """The template's kept fields + ``model = merged`` + ``extra_state["merge"] = metadata``."""
    if not template.fields:
        raise ValueError(
            f"{template.path} was not loaded with keep_fields=True; "
            f"it cannot serve as the template of a merged checkpoint"
        )
    output: Dict[str, Any] = {}
    for key, value in template.fields.items():
        output[key] = value
        if key == "cfg":
            output["model"] = dict(merged)
    output.setdefault("model", dict(merged))
    extra = dict(output.get("extra_state") or {})
    extra["merge"] = dict(metadata)
    output["extra_state"] = extra
    return output


def save_checkpoint(checkpoint: Mapping[str, Any], out_path: str, overwrite: bool = False) -> str:
    """Write with fairseq's ``torch_persistent_save`` (atomic rename); refuses to overwrite."""
    from fairseq.checkpoint_utils import torch_persistent_save

    out_path = os.fspath(out_path)
    if os.path.exists(out_path) and not overwrite:
        raise FileExistsError(f"{out_path} exists; pass overwrite=True (--force) to replace it")
    parent = os.path.dirname(out_path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    torch_persistent_save(dict(checkpoint), out_path)
    logger.info("wrote %s", out_path)
    return out_path
