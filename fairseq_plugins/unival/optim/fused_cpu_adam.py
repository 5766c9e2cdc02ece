"""fairseq's Adam with torch's fused CPU kernel for fp32 parameters.

fairseq's ``--optimizer adam`` runs a Python loop of about ten tensor ops per parameter
(:class:`fairseq.optim.adam.Adam`); on a GPU it switches to a fused kernel by itself, on the
CPU it never does. For ``make demo``'s 197 parameter tensors that loop took 10 ms of a 184 ms
update, against 3 ms for torch's fused CPU kernel (``torch._fused_adamw_``, the kernel of
``torch.optim.AdamW(fused=True)``) on the same tensors.

The update is fairseq's, computed in another order: fairseq applies
``p -= lr * sqrt(bc2) / bc1 * m / (sqrt(v) + eps)`` with decoupled weight decay, the fused
kernel ``p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps')``, which is the same with
``eps' = eps / sqrt(bc2)`` (bc1, bc2: the bias corrections of the step). The optimizer state
(``step`` as an int, ``exp_avg``, ``exp_avg_sq``) is fairseq's, so checkpoints move freely
between the two. Anything else (amsgrad, fp16/bf16 or sparse gradients, parameters off the
CPU) takes fairseq's loop unchanged, and so does every step with ``--use-old-adam``, which
keeps fairseq's own class (:func:`unival.compat.patch_adam_fused_on_cpu`).

The trainer scales the gradients twice before each step: by 1 / sample size
(``multiply_grads``) and by the clipping coefficient (``clip_grad_norm``). fairseq's loop
does each as a pass over every gradient. :class:`FusedCpuFairseqAdam` instead keeps the
product of the two and hands it to the kernel, which divides each gradient by the step's
scale as it reads it (its ``grad_scale``), much as fairseq's fp16 optimizers do with a GPU's
fused Adam. The gradient norm is still that of the scaled gradients, and after the step every
gradient holds its scaled value, as before. For the demo's 197 tensors that removes two
passes and about 400 small tensor operations from each update.
"""

import math
from collections import defaultdict
from typing import Dict, List, Optional, Union

import torch
from fairseq.optim.adam import Adam, FairseqAdam

Scale = Union[float, torch.Tensor]


class FusedCpuAdam(Adam):
    """:class:`fairseq.optim.adam.Adam` whose CPU fp32 step runs one fused kernel per
    parameter group and step count."""

    # No ``supports_step_with_scale``: with it, fairseq's fp16/bf16 optimizers would pass their
    # factor as ``scale`` and, without a loss scaler (bf16), never reset it between updates.
    def step(self, closure=None, scale: Scale = 1.0):
        """One Adam step on the gradients divided by ``scale``."""
        if not self._fusable():
            if not _is_one(scale):
                _multiply(self._grads(), 1.0 / scale)
            return super().step(closure)
        loss = closure() if closure is not None else None
        grad_scale = None if _is_one(scale) else torch.as_tensor(scale, dtype=torch.float32)
        for group in self.param_groups:
            self._fused_group_step(group, grad_scale)
        return loss

    def _grads(self) -> List[torch.Tensor]:
        return [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]

    def _fusable(self) -> bool:
        for group in self.param_groups:
            if group.get("amsgrad", False):
                return False
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.device.type != "cpu" or p.dtype != torch.float32 or p.grad.is_sparse:
                    return False
                if p.grad.dtype != torch.float32:
                    return False
        return True

    def _fused_group_step(self, group: Dict, grad_scale: Optional[torch.Tensor]) -> None:
        beta1, beta2 = group["betas"]
        by_step: Dict[int, List[torch.Tensor]] = defaultdict(list)
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if len(state) == 0:
                state["step"] = 0
                state["exp_avg"] = torch.zeros_like(p.data)
                state["exp_avg_sq"] = torch.zeros_like(p.data)
            state["step"] += 1
            by_step[state["step"]].append(p)
        for step, params in by_step.items():
            states = [self.state[p] for p in params]
            bias_correction2 = 1 - beta2**step
            step_tensor = torch.tensor(float(step))  # the kernel reads the bias corrections from it
            torch._fused_adamw_(
                [p.data for p in params],
                [p.grad.data for p in params],
                [s["exp_avg"] for s in states],
                [s["exp_avg_sq"] for s in states],
                [],
                [step_tensor] * len(params),
                lr=group["lr"],
                beta1=beta1,
                beta2=beta2,
                weight_decay=group["weight_decay"],
                eps=group["eps"] / math.sqrt(bias_correction2),
                amsgrad=False,
                maximize=False,
                grad_scale=grad_scale,  # divides each gradient, and stores the quotient
            )


class FusedCpuFairseqAdam(FairseqAdam):
    """``--optimizer adam`` whose gradient scaling waits for the fused step.

    ``multiply_grads`` and the clipping in ``clip_grad_norm`` only update ``_multiply_factor``
    while the wrapped :class:`FusedCpuAdam` can take the step fused; ``step`` passes the
    factor on as the kernel's divisor. Anything the kernel does not cover scales at once, as
    fairseq does.
    """

    _multiply_factor: Scale = 1.0

    def _defers(self) -> bool:
        # the wrapped optimizer is a FusedCpuAdam (unival.compat swaps both classes together)
        return self._optimizer._fusable() and not _has_experts(self.params)

    def multiply_grads(self, c: Scale) -> None:
        if self._defers():
            self._multiply_factor = self._multiply_factor * c
        else:
            self._apply_factor()
            super().multiply_grads(c)

    def clip_grad_norm(self, max_norm, aggregate_norm_fn=None) -> torch.Tensor:
        if not self._defers():
            self._apply_factor()
            return super().clip_grad_norm(max_norm, aggregate_norm_fn)
        # the norm of the scaled gradients (fairseq's fp16 optimizers compute it the same way)
        grad_norm = self._multiply_factor * _total_norm(self.params, aggregate_norm_fn)
        if max_norm > 0:
            clip_coef = (float(max_norm) / (grad_norm + 1e-6)).clamp_(max=1)
            self._multiply_factor = self._multiply_factor * clip_coef
        return grad_norm

    def step(self, closure=None, scale: Scale = 1.0, groups=None) -> None:
        factor, self._multiply_factor = self._multiply_factor, 1.0
        self._optimizer.step(closure, scale=scale if _is_one(factor) else scale / factor)

    def zero_grad(self) -> None:
        super().zero_grad()
        self._multiply_factor = 1.0

    def _apply_factor(self) -> None:
        """Scale the gradients now by what is pending (before fairseq's own scaling)."""
        if not _is_one(self._multiply_factor):
            super().multiply_grads(self._multiply_factor)
            self._multiply_factor = 1.0


def _total_norm(params, aggregate_norm_fn=None) -> torch.Tensor:
    """The 2-norm of all gradients, as ``fairseq.utils.clip_grad_norm_`` computes it (fp32, the
    norm of the per-tensor norms), in one foreach call instead of one call per tensor."""
    grads = [p.grad.detach() for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2)))
    return aggregate_norm_fn(total) if aggregate_norm_fn is not None else total


def _is_one(x: Scale) -> bool:
    # a tensor is taken to differ from 1 without reading it (fairseq's fp16 optimizers do so)
    return not torch.is_tensor(x) and x == 1.0


def _multiply(grads: List[torch.Tensor], c: Scale) -> None:
    if grads:
        torch._foreach_mul_(grads, c)


def _has_experts(params) -> bool:
    # fairseq leaves expert parameters out of the norm but clips them: scaled at once
    return any(hasattr(p, "expert") for p in params)
