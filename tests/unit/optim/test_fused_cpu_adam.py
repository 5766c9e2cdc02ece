"""``--optimizer adam`` on the CPU: fairseq's FairseqAdam gets the fused step
(:class:`FusedCpuAdam`), with fairseq's looped Adam's parameters and state up to rounding."""

import copy

import torch
from fairseq.optim import build_optimizer
from fairseq.optim.adam import Adam
from omegaconf import OmegaConf

from unival.optim.fused_cpu_adam import FusedCpuAdam

SHAPES = [(7, 5), (5,), (3, 4, 2)]
STEPS = 12


def _params():
    gen = torch.Generator().manual_seed(0)
    return [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in SHAPES]


def _grads(step: int):
    """Ordinary gradients for the first two tensors, tiny ones (where eps decides) for the
    third; the second tensor has none at odd steps, so its step count falls behind."""
    gen = torch.Generator().manual_seed(100 + step)
    grads = [torch.randn(s, generator=gen) for s in SHAPES]
    grads[2] = grads[2] * 1e-9
    if step % 2:
        grads[1] = None
    return grads


def _train(cls, **options):
    params = _params()
    opt = cls(params, lr=5e-3, weight_decay=0.01, **options)
    for step in range(STEPS):
        for p, g in zip(params, _grads(step)):
            p.grad = g
        opt.step()
    return params, opt


def test_fused_step_matches_fairseqs_adam():
    looped, looped_opt = _train(Adam)
    fused, fused_opt = _train(FusedCpuAdam)
    moved = [(p - q).abs().max() for p, q in zip(looped, _params())]
    assert all(m > 1e-3 for m in moved[:2]) and moved[2] > 1e-7
    for p, q, key in zip(fused, looped, range(len(SHAPES))):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7, msg=f"parameter {key}")
        s, t = fused_opt.state[p], looped_opt.state[q]
        assert s.keys() == t.keys() == {"step", "exp_avg", "exp_avg_sq"}
        assert isinstance(s["step"], int) and s["step"] == t["step"]
        torch.testing.assert_close(s["exp_avg"], t["exp_avg"], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(s["exp_avg_sq"], t["exp_avg_sq"], rtol=1e-6, atol=1e-20)
    assert fused_opt.state[fused[1]]["step"] == STEPS // 2


def test_fused_step_resumes_a_looped_state():
    looped, looped_opt = _train(Adam)
    fused_opt = FusedCpuAdam(looped, lr=5e-3, weight_decay=0.01)
    fused_opt.load_state_dict(copy.deepcopy(looped_opt.state_dict()))
    continued = [p.detach().clone() for p in looped]
    for p, g in zip(looped, _grads(0)):
        p.grad = g
    fused_opt.step()
    reference_opt = Adam(continued, lr=5e-3, weight_decay=0.01)
    reference_opt.load_state_dict(copy.deepcopy(looped_opt.state_dict()))
    for p, g in zip(continued, _grads(0)):
        p.grad = g
    reference_opt.step()
    for p, q in zip(looped, continued):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


def test_amsgrad_takes_fairseqs_loop_bit_for_bit():
    looped, _ = _train(Adam, amsgrad=True)
    fused, _ = _train(FusedCpuAdam, amsgrad=True)
    assert all(torch.equal(p, q) for p, q in zip(fused, looped))


def test_fairseq_adam_on_the_cpu_builds_the_fused_step():
    def built(**options):
        cfg = OmegaConf.create(
            {
                "_name": "adam",
                "adam_betas": "(0.9, 0.999)",
                "adam_eps": 1e-8,
                "weight_decay": 0.0,
                "use_old_adam": False,
                "fp16_adam_stats": False,
                "tpu": False,
                "lr": [1e-3],
                **options,
            }
        )
        return type(build_optimizer(cfg, _params())._optimizer)

    assert built() is FusedCpuAdam
    assert built(use_old_adam=True) is Adam
