"""Which model entries a checkpoint may lack, and what happens to the others.

A checkpoint loaded into a model must supply every weight: a missing module would otherwise
keep its random initial values and the run would evaluate or fine-tune a partly random model
without a word. Entries the model can rebuild on its own may be absent: the buffers its
config fully determines (relative-position buckets, ``image_position_idx``), fairseq's
``version`` markers, BatchNorm's ``num_batches_tracked`` counters and the audio front end's
fixed filterbanks (evaluation loading drops them on purpose). Anything else missing raises
:class:`MissingWeightsError` listing the keys, unless the caller opts in to fresh weights
(``UNIVAL_ALLOW_MISSING_WEIGHTS=1``, e.g. when stage 1 starts from text-only BART and the
image modules are new), in which case a warning lists them.
"""

from __future__ import annotations

import logging
import os
from typing import Dict, Iterable, List

logger = logging.getLogger(__name__)

ALLOW_MISSING_ENV_VAR = "UNIVAL_ALLOW_MISSING_WEIGHTS"

#: Buffers fully determined by the config: always taken from the model when loading.
DETERMINISTIC_BUFFERS = (
    "encoder.token_rp_bucket",
    "encoder.image_rp_bucket",
    "decoder.token_rp_bucket",
    "decoder.image_rp_bucket",
    "decoder.image_position_idx",
)
_REBUILT_SUFFIXES = ("version", ".num_batches_tracked")
_REBUILT_PARTS = (".logmel_extractor.", ".spectrogram_extractor.")


class MissingWeightsError(RuntimeError):
    """A checkpoint lacks weights the model needs (they would stay randomly initialised)."""

    def __init__(self, keys: List[str], source: str = "the checkpoint"):
        self.keys = sorted(keys)
        super().__init__(
            f"{source} is missing {len(self.keys)} weight(s) of the model: "
            f"{compact(self.keys)}. They would "
            f"keep random initial values: use a checkpoint of this architecture and options, or "
            f"set {ALLOW_MISSING_ENV_VAR}=1 to start them from fresh initial values (e.g. new "
            f"modules on top of a smaller pretrained model)"
        )


def compact(keys: Iterable[str]) -> str:
    """Every key, those of one module folded: ``decoder.layers.0.fc1.{bias,weight}``."""
    groups: Dict[str, List[str]] = {}
    for key in keys:
        module, _, name = key.rpartition(".")
        groups.setdefault(module, []).append(name)
    parts = []
    for module, names in groups.items():
        inner = names[0] if len(names) == 1 else "{" + ",".join(names) + "}"
        parts.append(f"{module}.{inner}" if module else inner)
    return ", ".join(parts)


def rebuildable(key: str) -> bool:
    """True for model entries a checkpoint may lack (see the module docstring)."""
    return (
        key in DETERMINISTIC_BUFFERS
        or key.endswith(_REBUILT_SUFFIXES)
        or any(part in f".{key}" for part in _REBUILT_PARTS)
    )


def missing_allowed_by_environment() -> bool:
    """True when ``UNIVAL_ALLOW_MISSING_WEIGHTS`` is 1/true/yes (an explicit opt-in)."""
    return os.environ.get(ALLOW_MISSING_ENV_VAR, "").strip().lower() in {"1", "true", "yes"}


def check_missing(
    missing: Iterable[str], allow: bool = False, source: str = "the checkpoint"
) -> None:
    """Raise :class:`MissingWeightsError` for missing entries the model cannot rebuild; with
    ``allow`` (or the environment opt-in) log a warning that lists them instead."""
    needed = sorted(key for key in missing if not rebuildable(key))
    if not needed:
        return
    if not (allow or missing_allowed_by_environment()):
        raise MissingWeightsError(needed, source)
    logger.warning(
        "%s lacks %d weight(s); they start from fresh initial values: %s",
        source,
        len(needed),
        compact(needed),
    )
