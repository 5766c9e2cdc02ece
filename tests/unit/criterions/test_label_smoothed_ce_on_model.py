"""adjust_label_smoothed_cross_entropy on a real unival_tiny: the fast path projects only the
kept (non-pad) target positions to the vocabulary, with the plain path's loss and gradients."""

import pytest
import torch
from fairseq.data import Dictionary

from unival.criterions.label_smoothed_ce import (
    AdjustLabelSmoothedCrossEntropyConfig,
    AdjustLabelSmoothedCrossEntropyCriterion,
    separate_output_projection,
)
from unival.models import build_model
from unival.models.perf import plain_path

VOCAB, PAD, ROWS, TGT = 60, 1, 3, 5
NO_DROPOUT = dict(dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)


class Task:
    def __init__(self):
        self.target_dictionary = Dictionary()


def _sample():
    gen = torch.Generator().manual_seed(4)
    target = torch.randint(4, VOCAB, (ROWS, TGT), generator=gen)
    target[0, 3:], target[2, 1:] = PAD, PAD
    prev = torch.cat([torch.zeros(ROWS, 1, dtype=torch.long), target[:, :-1]], dim=1)
    masks = torch.rand(ROWS, TGT, VOCAB, generator=gen) > 0.3
    masks.scatter_(-1, target.unsqueeze(-1), True)
    net_input = {
        "src_tokens": torch.randint(4, VOCAB, (ROWS, 6), generator=gen),
        "src_lengths": torch.full((ROWS,), 6),
        "patch_images": torch.randn(ROWS, 3, 64, 64, generator=gen),
        "patch_masks": torch.ones(ROWS, dtype=torch.bool),
        "prev_output_tokens": prev,
    }
    return {
        "net_input": net_input,
        "target": target,
        "constraint_masks": masks,
        "conf": torch.tensor([1.0, 0.5, 2.0]),
        "ntokens": int(target.ne(PAD).sum()),
        "nsentences": ROWS,
    }


def _loss_and_grads(plain: bool, label_smoothing: float):
    torch.manual_seed(0)
    model = build_model("unival_tiny", VOCAB, **NO_DROPOUT).eval()
    crit = AdjustLabelSmoothedCrossEntropyCriterion(
        Task(),
        AdjustLabelSmoothedCrossEntropyConfig(sentence_avg=False, label_smoothing=label_smoothing),
    )
    rows = []
    hook = model.decoder.output_projection.register_forward_pre_hook(
        lambda module, args: rows.append(tuple(args[0].shape))
    )
    with plain_path(plain):
        loss, size, log = crit(model, _sample())
        loss.backward()
    hook.remove()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), size, log, grads, rows


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_fast_path_projects_only_the_kept_positions(label_smoothing):
    p_loss, p_size, p_log, p_grads, p_rows = _loss_and_grads(True, label_smoothing)
    f_loss, f_size, f_log, f_grads, f_rows = _loss_and_grads(False, label_smoothing)
    kept = int(_sample()["target"].ne(PAD).sum())
    assert kept < ROWS * TGT
    assert p_rows == [(ROWS, TGT, 128)] and f_rows == [(kept, 128)]
    assert f_size == p_size == kept
    torch.testing.assert_close(f_loss, p_loss, atol=1e-5, rtol=1e-6)
    torch.testing.assert_close(f_log["nll_loss"], p_log["nll_loss"], atol=1e-5, rtol=1e-6)
    assert f_grads.keys() == p_grads.keys() and len(p_grads) > 100
    for name, grad in p_grads.items():
        torch.testing.assert_close(f_grads[name], grad, atol=1e-6, rtol=1e-4, msg=name)


def test_wrapped_models_keep_their_whole_forward():
    torch.manual_seed(0)
    model = build_model("unival_tiny", VOCAB, **NO_DROPOUT)
    assert separate_output_projection(model) == model.decoder.output_layer
    assert separate_output_projection(torch.nn.Sequential(model)) is None
    with plain_path():
        assert separate_output_projection(model) is None
