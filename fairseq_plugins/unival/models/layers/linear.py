"""Linear layers whose CPU inference runs through oneDNN instead of MKL.

For the few rows a decoding step has (beam 5: 5 rows per sentence), MKL's sgemm reads a
transposed ``nn.Linear`` weight slowly: the 59,457 x 768 output projection took 27 ms for 5
rows on a 2-core EPYC, oneDNN's matmul 9 ms, at 1 to 980 rows 1.1-3.8x faster for every
layer shape of ``unival_base``, with no extra memory. The results agree to float rounding,
not bit for bit. oneDNN's op has no autograd kernel (a backward through it leaves the
gradients empty, with only a warning), so anything that builds an autograd graph
(training) keeps ``F.linear``.
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
    ``torch.backends.mkldnn.enabled`` was switched off).
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
    return F.linear(x, weight, bias)


if _ONEDNN_LINEAR:

    @register_flop_formula(torch.ops.mkldnn._linear_pointwise)
    def _linear_pointwise_flops(x_shape, w_shape, *args, **kwargs) -> int:
        """FlopCounterMode counts the oneDNN linear as the matmul it is: 2 * rows * N * K."""
        rows = math.prod(x_shape[:-1])
        return 2 * rows * w_shape[0] * w_shape[1]


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters and state-dict names) computed by :func:`linear`."""

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)
