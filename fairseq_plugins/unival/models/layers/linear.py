"""Linear layers whose CPU inference runs through oneDNN instead of MKL.

For the few rows a decoding step has (beam 5: 5 rows per sentence), MKL's sgemm reads a
transposed ``nn.Linear`` weight slowly: the 59,457 x 768 output projection took 27 ms for 5
rows on a 2-core EPYC, oneDNN's matmul 9 ms, at 1 to 980 rows 1.1-3.8x faster for every
layer shape of ``unival_base``, with no extra memory. The results agree to float rounding,
not bit for bit. oneDNN's op has no autograd kernel (a backward through it leaves the
gradients empty, with only a warning), so anything that builds an autograd graph
(training) keeps ``F.linear``.

For inference only, :meth:`Linear.pack_for_cpu_inference_` goes one step further: the
weight is kept in oneDNN's blocked layout (the plain copy freed), which oneDNN reads up to
twice as fast for a decoding step's 5 rows, with the unpacked path's results to float
rounding (bit for bit on the build machine from 2 rows up).
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import register_flop_formula

from unival.models.perf import fast_paths_enabled

_ONEDNN_LINEAR = torch.backends.mkldnn.is_available() and hasattr(
    torch.ops.mkldnn, "_linear_pointwise"
)
_onednn_linear = torch.ops.mkldnn._linear_pointwise if _ONEDNN_LINEAR else None


def _needs_grad(*tensors) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def linear(x: Tensor, weight: Tensor, bias: Tensor = None) -> Tensor:
    """``F.linear``: x (..., K), weight (N, K), bias (N,) or None -> (..., N).

    On the fast path, fp32 on the CPU without autograd or autocast, through oneDNN (unless
    ``torch.backends.mkldnn.enabled`` was switched off). ``weight`` may be a packed one
    (:func:`pack_weight`); where oneDNN cannot take the call it is unpacked for it.
    """
    if (
        _ONEDNN_LINEAR
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and fast_paths_enabled()
        and torch.backends.mkldnn.enabled
        and not torch.is_autocast_enabled("cpu")
        and not _needs_grad(x, weight, bias)
    ):
        return _onednn_linear(x, weight, bias, "none", [None], "")
    return F.linear(x, weight.to_dense() if weight.is_mkldnn else weight, bias)


def pack_weight(weight: Tensor, rows: int) -> Tensor:
    """weight (N, K) fp32 on the CPU -> the same values in oneDNN's blocked layout for inputs
    of about ``rows`` rows (any number of rows works; ``to_dense()`` gives them back)."""
    return torch.ops.mkldnn._reorder_linear_weight(weight.detach(), rows)


def can_pack(weight: Tensor) -> bool:
    """Whether :func:`pack_weight` applies here: oneDNN's linear, the fast path, fp32 CPU."""
    return (
        _ONEDNN_LINEAR
        and fast_paths_enabled()
        and torch.backends.mkldnn.enabled
        and weight.device.type == "cpu"
        and weight.dtype == torch.float32
        and not weight.is_mkldnn
    )


if _ONEDNN_LINEAR:

    @register_flop_formula(torch.ops.mkldnn._linear_pointwise)
    def _linear_pointwise_flops(x_shape, w_shape, *args, **kwargs) -> int:
        """FlopCounterMode counts the oneDNN linear as the matmul it is: 2 * rows * N * K."""
        rows = math.prod(x_shape[:-1])
        return 2 * rows * w_shape[0] * w_shape[1]


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters and state-dict names) computed by :func:`linear`."""

    _packed_rows = 0  # > 0 once packed: the weight is a buffer from then on, packed or not
    packed_copy_of_shared = False  # the packed weight copies a parameter another module keeps

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)

    @property
    def packed(self) -> bool:
        return self.weight.is_mkldnn

    def pack_for_cpu_inference_(self, rows: int) -> bool:
        """Keep the weight only in oneDNN's blocked layout (:func:`pack_weight`), as a buffer
        named ``weight``: no gradient, no optimizer step. The state dict still holds the
        plain weight, and loading one packs it again. Casting or moving the layer unpacks
        the weight, and it is packed again whenever it is back in fp32 on the CPU. False
        where packing does not apply (see :func:`can_pack`)."""
        if not can_pack(self.weight):
            return False
        packed = pack_weight(self.weight, rows)
        del self.weight
        self.register_buffer("weight", packed)
        self._packed_rows = rows
        return True

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        if not self._packed_rows:
            return super()._save_to_state_dict(destination, prefix, keep_vars)
        weight = self.weight.to_dense() if self.packed else self.weight
        weight = weight if keep_vars else weight.detach()
        destination[prefix + "weight"] = weight  # first, where the parameter was
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "weight"] = weight

    def _load_from_state_dict(self, state_dict, prefix, *args):
        if not self.packed:
            return super()._load_from_state_dict(state_dict, prefix, *args)
        # nn.Module copies into the plain tensor (with its shape checks), then it is packed
        self._buffers["weight"] = self.weight.to_dense()
        try:
            super()._load_from_state_dict(state_dict, prefix, *args)
        finally:
            self._buffers["weight"] = pack_weight(self._buffers["weight"], self._packed_rows)

    def __getstate__(self):
        # copy.deepcopy and pickle cannot read a oneDNN tensor: they get the plain weight
        state = self.__dict__.copy()
        if self.packed:
            state["_buffers"] = {**self._buffers, "weight": self.weight.to_dense()}
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if self._packed_rows and can_pack(self.weight):
            self._buffers["weight"] = pack_weight(self.weight, self._packed_rows)

    def _apply(self, fn, recurse=True):
        if not self._packed_rows:
            return super()._apply(fn, recurse)
        if self.packed:
            self._buffers["weight"] = self.weight.to_dense()
        super()._apply(fn, recurse)
        if can_pack(self.weight):
            self._buffers["weight"] = pack_weight(self.weight, self._packed_rows)
        return self


def parameter_count(model: nn.Module) -> int:
    """The model's parameters, counting the packed weights of inference-only layers (once:
    not a packed copy of a weight another module keeps as its parameter)."""
    packed = sum(
        m.weight.numel()
        for m in model.modules()
        if isinstance(m, Linear) and m._packed_rows and not m.packed_copy_of_shared
    )
    return sum(p.numel() for p in model.parameters()) + packed
