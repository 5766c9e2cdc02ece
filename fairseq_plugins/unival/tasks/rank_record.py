"""Per-rank training records of multi-process runs (a diagnostic for distributed training).

With the environment variable ``UNIVAL_RANK_RECORD_DIR`` set, every rank writes
``rank<r>.json`` there each time validation starts (the end of every epoch and of training):
its rank, the world size torch.distributed reports, the epoch and a SHA-256 digest of its
parameters. Ranks of a healthy data-parallel run hold identical parameters, so their digests
are equal; a rank that never joined the process group writes world size 1.
"""

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Optional

import torch
from torch import nn

logger = logging.getLogger(__name__)

RECORD_DIR_ENV = "UNIVAL_RANK_RECORD_DIR"


def parameter_digest(model: nn.Module) -> str:
    """SHA-256 over every parameter's name, dtype, shape and bytes, in ``named_parameters``
    order."""
    digest = hashlib.sha256()
    for name, param in model.named_parameters():
        tensor = param.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def write_rank_record(model: nn.Module, epoch: int) -> Optional[Path]:
    """Write this rank's record when ``UNIVAL_RANK_RECORD_DIR`` is set; returns the file
    (or None)."""
    folder = os.environ.get(RECORD_DIR_ENV)
    if not folder:
        return None
    initialised = torch.distributed.is_available() and torch.distributed.is_initialized()
    rank = torch.distributed.get_rank() if initialised else 0
    world = torch.distributed.get_world_size() if initialised else 1
    record = {
        "rank": rank,
        "world_size": world,
        "epoch": int(epoch),
        "digest": parameter_digest(model),
        "backend": torch.distributed.get_backend() if initialised else None,
    }
    path = Path(folder) / f"rank{rank}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record) + "\n")
    logger.info("rank record: %s", record)
    return path
