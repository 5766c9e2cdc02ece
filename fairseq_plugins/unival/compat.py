"""The only place that patches fairseq / numpy behaviour.

Importing this module applies every fix once (idempotent):

1. **Checkpoint loading.** fairseq calls ``torch.load`` bare; its ``checkpoint_utils`` and
   ``distributed.utils`` (the rank-0 -> all-ranks state broadcast) get a ``torch`` namespace
   whose ``load`` is :func:`unival.safe_load.safe_torch_load` (weights-only, allow-listed).
2. **numpy 2 aliases.** ``np.int``/``np.float``/... were removed but are still used on some
   fairseq paths (``data_utils.compute_mask_indices(no_overlap=True)``, the dynamic CRF);
   they are restored as the builtins they used to alias, only where absent.
3. **Dataset indices.** fairseq hands datasets numpy integers: :func:`as_index`.
4. **Valid-subset check.** ``fairseq-train`` accepts comma-separated TSV lists as data.
5. **bf16 off TPUs.** ``--bf16`` no longer turns on fairseq's TPU mode where torch_xla is absent.
6. **Fused Adam on the CPU.** ``--optimizer adam`` steps CPU fp32 parameters with torch's fused
   kernel (:class:`unival.optim.fused_cpu_adam.FusedCpuAdam`), as fairseq already does on GPUs;
   ``--use-old-adam`` keeps fairseq's loop.
7. **Pinned batches only with an accelerator.** fairseq's epoch iterators always ask their
   DataLoader for pinned memory; without a GPU torch ignores that and warns every epoch.

Before any of them, fairseq is imported here with the root logger kept as it was
(:func:`import_fairseq_keeping_root_logger`): one of fairseq's model modules configures the
root logger at DEBUG on import, which would print every library's debug lines (PIL's two per
decoded image among them) in any program that imports ``unival`` before it sets up logging.
"""

from __future__ import annotations

import builtins
import importlib.util
import logging
import os
import sys
import types
from typing import Any

import numpy as np
import torch

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# 0. fairseq's import-time logging setup
# --------------------------------------------------------------------------------------
def import_fairseq_keeping_root_logger() -> None:
    """Import fairseq's models and tasks without the root-logger setup they do on import.

    ``fairseq.models.wav2vec.wav2vec2_classification`` calls
    ``logging.basicConfig(level=logging.DEBUG)`` at import time, and two speech tasks call it
    at INFO and log a tensorboardX hint: where logging was not set up yet, the root logger
    would get a stderr handler at DEBUG, and the program's own ``basicConfig`` later would do
    nothing. While they import, a stand-in handler on the root logger (passing warnings on to
    stderr) makes those calls no-ops; it is removed afterwards. Where fairseq was imported
    before (``fairseq-train`` sets up its logging first), there is nothing to do.
    """
    if "fairseq.models" in sys.modules and "fairseq.tasks" in sys.modules:
        return
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stand_in = logging.StreamHandler()
    stand_in.setLevel(logging.WARNING)
    root.addHandler(stand_in)
    try:
        import fairseq.models  # noqa: F401  (every model module)
        import fairseq.tasks  # noqa: F401  (every task module)
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


import_fairseq_keeping_root_logger()

from unival.safe_load.checkpoint import safe_torch_load  # noqa: E402  (imports fairseq)


# --------------------------------------------------------------------------------------
# 1. checkpoint loading
# --------------------------------------------------------------------------------------
class _ModuleStandIn(types.ModuleType):
    """Stands in for ``module`` as one fairseq module's global: the given attributes replace
    the module's own, everything else is looked up in ``module``."""

    def __init__(self, module: types.ModuleType, **replaced: Any) -> None:
        super().__init__(module.__name__)
        self._unival_target = module
        self.__dict__.update(replaced)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._unival_target, name)


class _TorchWithSafeLoad(_ModuleStandIn):
    """``torch`` inside one fairseq module, with the allow-listed ``load``."""

    def __init__(self) -> None:
        super().__init__(torch, load=safe_torch_load)


def _swap_torch_global(module_name: str, stand_in: type, fix: str) -> bool:
    """Give fairseq module ``module_name`` a ``stand_in()`` for its ``torch`` global; False
    where it has one already. Raises where fairseq no longer holds torch as a global."""
    module = importlib.import_module(module_name)
    if isinstance(getattr(module, "torch", None), stand_in):
        return False
    if getattr(module, "torch", None) is not torch:
        raise RuntimeError(
            f"{module_name} no longer imports torch as a module global; "
            f"unival.compat's {fix} fix needs updating"
        )
    module.torch = stand_in()
    return True


_PATCHED_FAIRSEQ_MODULES = ("fairseq.checkpoint_utils", "fairseq.distributed.utils")


def patch_fairseq_checkpoint_loading() -> None:
    """Route fairseq's bare ``torch.load`` calls through :func:`safe_torch_load` (idempotent).

    Covers ``checkpoint_utils.load_checkpoint_to_cpu`` (``--restore-file``,
    ``load_model_ensemble_and_task``, ``--finetune-from-model``), ``load_ema_from_checkpoint``
    and the distributed broadcast of the loaded state to the other ranks.
    """
    for module_name in _PATCHED_FAIRSEQ_MODULES:
        if _swap_torch_global(module_name, _TorchWithSafeLoad, "checkpoint-loading"):
            logger.debug("routed %s.torch.load through safe_torch_load", module_name)


# --------------------------------------------------------------------------------------
# 2. numpy 2 aliases
# --------------------------------------------------------------------------------------
_NUMPY_REMOVED_ALIASES = {
    "int": builtins.int,
    "float": builtins.float,
    "bool": builtins.bool,
    "complex": builtins.complex,
    "object": builtins.object,
    "str": builtins.str,
}


def restore_numpy_aliases() -> None:
    """Re-add the builtin-type aliases numpy 2 removed, only where absent (idempotent)."""
    for name, value in _NUMPY_REMOVED_ALIASES.items():
        if name not in np.__dict__:
            setattr(np, name, value)


# --------------------------------------------------------------------------------------
# 3. dataset indices
# --------------------------------------------------------------------------------------
def as_index(i: Any) -> int:
    """A dataset index as a Python ``int`` (fairseq passes ``np.int64``; tensors work too)."""
    if isinstance(i, bool):
        raise TypeError(f"a dataset index must be an integer, got bool {i!r}")
    if isinstance(i, torch.Tensor):
        if i.numel() != 1 or i.is_floating_point():
            raise TypeError(f"a dataset index must be one integer, got tensor {i!r}")
        return int(i.item())
    if isinstance(i, (int, np.integer)):
        return int(i)
    raise TypeError(f"a dataset index must be an integer, got {type(i).__name__} {i!r}")


# --------------------------------------------------------------------------------------
# 4. fairseq-train's valid-subset check on TSV data lists
# --------------------------------------------------------------------------------------
def patch_valid_subset_check() -> None:
    """Let ``fairseq-train`` accept ``--data a.tsv,b.tsv,valid.tsv`` (idempotent).

    fairseq's ``raise_if_valid_subsets_unintentionally_ignored`` lists ``cfg.task.data`` as a
    directory, which fails on UnIVAL's comma-separated TSV lists. The check only makes sense
    for a data directory, so it runs unchanged there and is skipped otherwise.
    """
    from fairseq.data import data_utils

    original = data_utils.raise_if_valid_subsets_unintentionally_ignored
    if getattr(original, "_unival_patched", False):
        return

    def check_only_directories(train_cfg) -> None:
        data = getattr(train_cfg.task, "data", None)
        if isinstance(data, str) and not os.path.isdir(data):
            return
        original(train_cfg)

    check_only_directories._unival_patched = True
    data_utils.raise_if_valid_subsets_unintentionally_ignored = check_only_directories


# --------------------------------------------------------------------------------------
# 5. --bf16 on a GPU or CPU
# --------------------------------------------------------------------------------------
def keep_bf16_off_tpu(cfg) -> None:
    """Turn off the TPU mode fairseq's parser set for ``--bf16`` where torch_xla is absent
    (for code that sets up a trainer without ``call_main``, e.g. the benchmarks)."""
    common = cfg.common
    if common.bf16 and common.tpu and importlib.util.find_spec("torch_xla") is None:
        common.tpu = False


def patch_bf16_without_tpu() -> None:
    """Keep ``fairseq-train --bf16`` on the GPU or CPU it was asked to run on (idempotent).

    fairseq's option parsing sets ``--tpu`` whenever ``--bf16`` is given (in 2021 bf16 training
    meant a TPU); its trainer then asks torch_xla for the device and fails. The plugin is
    imported during that parsing, too early to change it, so ``distributed_utils.call_main``,
    which ``fairseq-train`` calls next with the parsed config, turns the TPU mode off again
    when torch_xla is not installed (with it, an explicit ``--tpu`` run is left alone).
    """
    from fairseq.distributed import utils as distributed_utils

    original = distributed_utils.call_main
    if getattr(original, "_unival_patched", False):
        return

    def call_main(cfg, main, **kwargs):
        keep_bf16_off_tpu(cfg)
        return original(cfg, main, **kwargs)

    call_main._unival_patched = True
    distributed_utils.call_main = call_main


# --------------------------------------------------------------------------------------
# 6. fused Adam on the CPU
# --------------------------------------------------------------------------------------
def patch_adam_fused_on_cpu() -> None:
    """Give ``FairseqAdam`` the fused CPU step where it built fairseq's looped Adam (idempotent).

    fairseq picks its fused Adam only when CUDA is available; otherwise it builds
    :class:`fairseq.optim.adam.Adam`. That instance becomes a
    :class:`~unival.optim.fused_cpu_adam.FusedCpuAdam` (same state, same update; it falls
    back to the loop for whatever its kernel does not cover), and the ``FairseqAdam`` around
    it a :class:`~unival.optim.fused_cpu_adam.FusedCpuFairseqAdam`, which leaves the
    gradients' scaling to that step, except with ``--use-old-adam`` or on a TPU.
    """
    from fairseq.optim import adam

    from unival.optim.fused_cpu_adam import FusedCpuAdam, FusedCpuFairseqAdam

    original = adam.FairseqAdam.__init__
    if getattr(original, "_unival_patched", False):
        return

    def __init__(self, cfg, params):
        original(self, cfg, params)
        looped = type(self._optimizer) is adam.Adam
        if looped and not getattr(cfg, "use_old_adam", False) and not getattr(cfg, "tpu", False):
            self._optimizer.__class__ = FusedCpuAdam
            self.__class__ = FusedCpuFairseqAdam

    __init__._unival_patched = True
    adam.FairseqAdam.__init__ = __init__


# --------------------------------------------------------------------------------------
# 7. pinned batches only with an accelerator
# --------------------------------------------------------------------------------------
class PinnedWhereAcceleratedDataLoader(torch.utils.data.DataLoader):
    """``DataLoader`` whose ``pin_memory=True`` stands only where torch has an accelerator
    (pinned host memory speeds up copies to a GPU; without one torch ignores the request and
    warns)."""

    def __init__(self, *args: Any, pin_memory: bool = False, **kwargs: Any) -> None:
        pin_memory = bool(pin_memory) and torch.accelerator.is_available()
        super().__init__(*args, pin_memory=pin_memory, **kwargs)


class _TorchWithPinningCheck(_ModuleStandIn):
    """``torch`` inside ``fairseq.data.iterators``: ``torch.utils.data.DataLoader`` is
    :class:`PinnedWhereAcceleratedDataLoader`."""

    def __init__(self) -> None:
        data = _ModuleStandIn(torch.utils.data, DataLoader=PinnedWhereAcceleratedDataLoader)
        super().__init__(torch, utils=_ModuleStandIn(torch.utils, data=data))


def patch_dataloader_pinning() -> None:
    """fairseq's epoch iterators build ``torch.utils.data.DataLoader(..., pin_memory=True)``
    (idempotent): there, the DataLoader pins only where torch sees an accelerator."""
    _swap_torch_global("fairseq.data.iterators", _TorchWithPinningCheck, "DataLoader pinning")


def apply_all() -> None:
    """Apply every fix (called at import; safe to call again)."""
    restore_numpy_aliases()
    patch_fairseq_checkpoint_loading()
    patch_valid_subset_check()
    patch_bf16_without_tpu()
    patch_adam_fused_on_cpu()
    patch_dataloader_pinning()


apply_all()
