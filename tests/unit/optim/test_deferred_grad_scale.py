"""``--optimizer adam`` on the CPU scales the gradients inside the fused step
(:class:`FusedCpuFairseqAdam`): the trainer's sequence of ``multiply_grads``,
``clip_grad_norm`` and ``step`` gives fairseq's norms, parameters and scaled gradients."""

import pytest
import torch
from fairseq.optim import build_optimizer
from fairseq.optim.fp16_optimizer import FP16Optimizer, MemoryEfficientFP16Optimizer
from omegaconf import OmegaConf

from unival.optim.fused_cpu_adam import FusedCpuAdam, FusedCpuFairseqAdam

SHAPES = [(7, 5), (5,), (3, 4, 2), (64, 16)]


def _params():
    gen = torch.Generator().manual_seed(0)
    return [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in SHAPES]


def _grads(step: int):
    gen = torch.Generator().manual_seed(100 + step)
    grads = [torch.randn(s, generator=gen) * (1 + step) for s in SHAPES]
    if step % 3 == 1:
        grads[1] = None  # a parameter without a gradient this update
    return grads


def _optimizer_cfg(use_old_adam: bool, **options) -> dict:
    return {
        "_name": "adam",
        "adam_betas": "(0.9, 0.999)",
        "adam_eps": 1e-8,
        "weight_decay": 0.01,
        "use_old_adam": use_old_adam,
        "fp16_adam_stats": False,
        "tpu": False,
        "lr": [5e-3],
        **options,
    }


def _optimizer(params, use_old_adam: bool, **options):
    return build_optimizer(OmegaConf.create(_optimizer_cfg(use_old_adam, **options)), params)


def _train(use_old_adam: bool, clip_norms, scales, aggregate_norm_fn=None):
    """fairseq's trainer per update: zero_grad, backward (here: set), multiply_grads,
    clip_grad_norm, step. Returns the parameters, the norms and the gradients after each step."""
    params = _params()
    opt = _optimizer(params, use_old_adam)
    norms, grads_after = [], []
    for step, (clip, scale) in enumerate(zip(clip_norms, scales)):
        opt.zero_grad()
        for p, g in zip(params, _grads(step)):
            p.grad = g
        opt.multiply_grads(scale)
        norms.append(opt.clip_grad_norm(clip, aggregate_norm_fn))
        opt.step()
        grads_after.append([None if p.grad is None else p.grad.clone() for p in params])
    return params, norms, grads_after, opt


# clipping on (the scaled gradients' norms are about 0.7, 1.4 and 41), off (1e4), none (0)
CLIPS = [0.5, 1.0, 1e4, 0.0, 5.0, 1e4]
SCALES = [1 / 48, torch.tensor(1 / 48), 0.5, 1.0, torch.tensor(0.25), 1 / 3]


def _assert_same_training(fused, looped):
    for key, (p, q) in enumerate(zip(fused[0], looped[0])):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7, msg=f"parameter {key}")
    for step, (n, m) in enumerate(zip(fused[1], looped[1])):
        torch.testing.assert_close(n, m, rtol=1e-6, atol=0, msg=f"norm of update {step}")
    for step, (gs, hs) in enumerate(zip(fused[2], looped[2])):
        for key, (g, h) in enumerate(zip(gs, hs)):
            assert (g is None) == (h is None)
            if g is not None:
                torch.testing.assert_close(g, h, rtol=1e-6, atol=1e-9, msg=f"grad {step}/{key}")


def test_the_trainers_sequence_matches_fairseqs_adam():
    fused = _train(False, CLIPS, SCALES)
    looped = _train(True, CLIPS, SCALES)
    assert type(fused[3]) is FusedCpuFairseqAdam and type(fused[3]._optimizer) is FusedCpuAdam
    assert type(looped[3]) is not FusedCpuFairseqAdam
    moved = [(p - q).abs().max() for p, q in zip(looped[0], _params())]
    assert all(m > 1e-3 for m in moved)
    norms = [float(n) for n in looped[1]]
    assert norms[0] > CLIPS[0] and norms[1] > CLIPS[1] and norms[4] > CLIPS[4]  # they clip
    _assert_same_training(fused, looped)


def test_the_aggregated_norm_decides_the_clipping():
    def four_equal_ranks(norm):  # the trainer's aggregation: sqrt of the summed squares
        return (norm**2 * 4) ** 0.5

    fused = _train(False, CLIPS, SCALES, four_equal_ranks)
    looped = _train(True, CLIPS, SCALES, four_equal_ranks)
    plain = _train(True, CLIPS, SCALES)
    torch.testing.assert_close(looped[1][0], 2 * plain[1][0])
    _assert_same_training(fused, looped)


def test_multiply_grads_waits_for_the_step():
    params = _params()
    opt = _optimizer(params, use_old_adam=False)
    for p, g in zip(params, _grads(0)):
        p.grad = g
    opt.multiply_grads(0.5)
    opt.clip_grad_norm(1.0)
    assert all(torch.equal(p.grad, g) for p, g in zip(params, _grads(0)))
    opt.zero_grad()  # a skipped update forgets what was pending
    for p, g in zip(params, _grads(0)):
        p.grad = g
    opt.step()
    assert all(torch.equal(p.grad, g) for p, g in zip(params, _grads(0)))


def test_a_step_the_kernel_cannot_take_scales_at_once():
    """bf16 parameters (``--memory-efficient-bf16``) take fairseq's loop: their gradients are
    scaled where fairseq scales them, and the step matches fairseq's."""
    runs = []
    for use_old_adam in (False, True):
        params = [torch.nn.Parameter(p.detach().bfloat16()) for p in _params()]
        opt = _optimizer(params, use_old_adam)
        grads = [None if g is None else g.bfloat16() for g in _grads(0)]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt.multiply_grads(0.5)
        assert all(torch.equal(p.grad, 0.5 * g) for p, g in zip(params, grads))
        opt.clip_grad_norm(1.0)
        opt.step()
        runs.append(params)
    assert all(torch.equal(p, q) for p, q in zip(*runs))


def test_step_with_scale_divides_the_gradients():
    grads = _grads(2)
    for amsgrad in (False, True):
        scaled, divided = _params(), _params()
        a = FusedCpuAdam(scaled, lr=5e-3, weight_decay=0.01, amsgrad=amsgrad)
        b = FusedCpuAdam(divided, lr=5e-3, weight_decay=0.01, amsgrad=amsgrad)
        for p, q, g in zip(scaled, divided, grads):
            p.grad = None if g is None else g.clone()
            q.grad = None if g is None else g / 4.0
        a.step(scale=torch.tensor(4.0))
        b.step()
        for p, q in zip(scaled, divided):
            torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)
            if p.grad is not None:
                torch.testing.assert_close(p.grad, q.grad)


def _bf16_optimizer(wrapper, params, use_old_adam: bool):
    """fairseq's bf16 optimizers (``--bf16``: fp32 master copies; ``--memory-efficient-bf16``:
    the bf16 parameters themselves) around ``--optimizer adam``; no loss scaler in bf16."""
    common = {
        "bf16": True,
        "memory_efficient_bf16": wrapper is MemoryEfficientFP16Optimizer,
        "fp16_no_flatten_grads": False,
        "fp16_init_scale": 128,
        "fp16_scale_window": None,
        "fp16_scale_tolerance": 0.0,
        "threshold_loss_scale": None,
        "min_loss_scale": 1e-4,
        "model_parallel_size": 1,
    }
    cfg = OmegaConf.create(
        {
            "optimizer": _optimizer_cfg(use_old_adam),
            "common": common,
            "optimization": {"update_freq": [1], "lr": [5e-3]},
            "distributed_training": {"distributed_world_size": 1},
        }
    )
    return wrapper.build_optimizer(cfg, params)


@pytest.mark.parametrize("wrapper", [FP16Optimizer, MemoryEfficientFP16Optimizer])
def test_fairseqs_bf16_optimizers_around_it_match_fairseqs_adam(wrapper):
    """A bf16 optimizer keeps its own factor and hands it to ``multiply_grads`` before the step;
    without a loss scaler it is reset only there, so each update must start from 1 again."""
    runs = []
    for use_old_adam in (False, True):
        params = [torch.nn.Parameter(p.detach().bfloat16()) for p in _params()]
        opt = _bf16_optimizer(wrapper, params, use_old_adam)
        norms = []
        for step, (clip, scale) in enumerate(zip(CLIPS, SCALES)):
            opt.zero_grad()
            for p, g in zip(params, _grads(step)):
                p.grad = None if g is None else g.bfloat16()
            opt._needs_sync = True  # what its backward() sets
            opt.multiply_grads(scale)
            norms.append(opt.clip_grad_norm(clip))
            opt.step()
        runs.append((params, norms))
    (fused, fused_norms), (looped, looped_norms) = runs
    moved = [(p.float() - q).abs().max() for p, q in zip(looped, _params())]
    assert all(m > 1e-3 for m in moved)
    for step, (n, m) in enumerate(zip(fused_norms, looped_norms)):
        torch.testing.assert_close(n, m, rtol=1e-5, atol=0, msg=f"norm of update {step}")
    for key, (p, q) in enumerate(zip(fused, looped)):
        torch.testing.assert_close(p, q, rtol=1e-2, atol=1e-2, msg=f"parameter {key}")
