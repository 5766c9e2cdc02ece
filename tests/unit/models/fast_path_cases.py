"""A tiny model, a padded batch and a loss on its real positions, shared by the tests that
compare the fast path with the plain one."""

import torch

from unival.criterions import label_smoothed_nll_loss
from unival.models import build_model

NO_DROPOUT = dict(dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)


def make_batch(rows=3):
    gen = torch.Generator().manual_seed(1)
    src = torch.randint(4, 60, (rows, 7), generator=gen)
    src[1, 5:] = 1  # padded text row
    prev = torch.randint(4, 60, (rows, 6), generator=gen)
    prev[:, 0] = 0
    prev[2, 4:] = 1  # padded target row
    return {
        "src_tokens": src,
        "src_lengths": (src != 1).sum(1),
        "patch_images": torch.randn(rows, 3, 64, 64, generator=gen),
        "patch_masks": torch.ones(rows, dtype=torch.bool),
    }, prev


def make_model(seed=0, **overrides):
    torch.manual_seed(seed)
    return build_model("unival_tiny", 60, **{**NO_DROPOUT, **overrides})


def loss_and_grads(model, net_input, prev):
    """Logits and cross-attention of the real positions, gradients of a loss on them (in
    training the fast path runs the decoder on the real positions only: pads are zeros)."""
    model.zero_grad(set_to_none=True)
    logits, extra = model(**net_input, prev_output_tokens=prev)
    real = prev.ne(1)
    target = prev.roll(-1, 1)
    kept = target.ne(1) & real
    lprobs = torch.log_softmax(logits[kept], -1)
    loss, _ = label_smoothed_nll_loss(lprobs, target[kept], 0.1)
    loss.sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return logits[real].detach(), extra["attn"][0][real].detach(), grads


def assert_grads_close(fast, plain):
    assert fast.keys() == plain.keys() and len(fast) > 50
    for name in plain:
        torch.testing.assert_close(fast[name], plain[name], atol=2e-5, rtol=1e-4, msg=name)
