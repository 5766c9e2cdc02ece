"""adjust_label_smoothed_encouraging_loss on a fixed-output model, against hand-computed values.

Vocabulary: fairseq's 4 specials plus 4 symbols (ids 4..7), V = 8. Logits are zeros with one
entry set to ln(c), so that entry has probability c / (c + 7) and the others 1 / (c + 7).
"""

import math

import pytest
import torch
import torch.nn.functional as F
from fairseq.criterions import CRITERION_REGISTRY
from fairseq.data import Dictionary

from unival.criterions.encouraging_loss import (
    AdjustLabelSmoothedEncouragingLossConfig,
    AdjustLabelSmoothedEncouragingLossCriterion,
    encouraging_bonus,
)

V, PAD = 8, 1


class FixedOutputModel(torch.nn.Module):
    def forward(self, logits):
        return logits, {}

    def get_normalized_probs(self, net_output, log_probs, sample=None):
        return F.log_softmax(net_output[0].float(), dim=-1)

    def get_targets(self, sample, net_output):
        return sample["target"]


class Task:
    def __init__(self):
        self.target_dictionary = Dictionary()
        for sym in "abcd":
            self.target_dictionary.add_symbol(sym)


def make(**kwargs):
    cfg = AdjustLabelSmoothedEncouragingLossConfig(sentence_avg=False, **kwargs)
    return AdjustLabelSmoothedEncouragingLossCriterion(Task(), cfg)


def peaked(index: int, c: float) -> torch.Tensor:
    r = torch.zeros(V)
    r[index] = math.log(c)
    return r


def sample_of(rows, target):
    logits = torch.stack([torch.stack(r) for r in rows])
    target = torch.tensor(target)
    return {
        "net_input": {"logits": logits},
        "target": target,
        "ntokens": int(target.ne(PAD).sum()),
        "nsentences": target.size(0),
    }


def test_registered_under_the_script_name():
    assert (
        CRITERION_REGISTRY["adjust_label_smoothed_encouraging_loss"]
        is AdjustLabelSmoothedEncouragingLossCriterion
    )
    cfg = AdjustLabelSmoothedEncouragingLossConfig()
    assert (cfg.log_end, cfg.drop_best_ratio, cfg.drop_best_after) == (0.75, 0.0, 0)


def test_bonus_log_part_tangent_part_and_floor():
    p = torch.tensor([0.5, 0.75, 0.8, 1.0], dtype=torch.float64)
    b = encouraging_bonus(p, log_end=0.75)
    assert b[0].item() == pytest.approx(math.log(0.5))
    assert b[1].item() == pytest.approx(math.log(0.25))  # the tangent starts at tau itself
    assert b[2].item() == pytest.approx(
        -0.2 + math.log(0.25)
    )  # (0.8 - 0.75) / (0.75 - 1) + ln(1 - 0.75)
    assert b[3].item() == pytest.approx(-1.0 + math.log(0.25))
    pure = encouraging_bonus(p, log_end=1.0)
    assert pure[2].item() == pytest.approx(math.log(0.2)) and pure[3].item() == pytest.approx(
        math.log(1e-5)
    )


def test_eps_zero_adds_log_one_minus_p_of_the_target():
    # p(5) = 5/12 <= 0.75: loss = -ln(5/12) + ln(7/12) = ln(7/5)
    loss, sample_size, log = make()(FixedOutputModel(), sample_of([[peaked(5, 5.0)]], [[5]]))
    assert loss.item() == pytest.approx(math.log(7 / 5), abs=1e-5)
    assert log["nll_loss"].item() == pytest.approx(-math.log(5 / 12), abs=1e-5)
    assert sample_size == 1


def test_eps_zero_above_log_end_uses_the_tangent():
    # p(5) = 28/35 = 0.8 > 0.75: loss = -ln 0.8 + (0.8 - 0.75)/(0.75 - 1) + ln 0.25
    loss, _, _ = make(log_end=0.75)(FixedOutputModel(), sample_of([[peaked(5, 28.0)]], [[5]]))
    assert loss.item() == pytest.approx(-math.log(0.8) - 0.2 + math.log(0.25), abs=1e-5)
    loss_log, _, _ = make(log_end=1.0)(FixedOutputModel(), sample_of([[peaked(5, 28.0)]], [[5]]))
    assert loss_log.item() == pytest.approx(-math.log(0.8) + math.log(0.2), abs=1e-5)


def test_eps_positive_formula():
    eps = 0.1
    loss, _, _ = make(label_smoothing=eps)(FixedOutputModel(), sample_of([[peaked(5, 5.0)]], [[5]]))
    py, pv = 5 / 12, 1 / 12
    nll = -math.log(py)
    smooth = -math.log(py) - 7 * math.log(pv)
    eps_i = eps / (V - 1)
    ce = (1 - eps - eps_i) * nll + eps_i * smooth
    bonus = (1 - eps) * math.log(1 - py) + (eps / V) * (math.log(1 - py) + 7 * math.log(1 - pv))
    assert loss.item() == pytest.approx(ce + bonus, abs=1e-5)


def test_pads_are_ignored_and_drop_best_keeps_the_hardest_tokens():
    rows = [[peaked(5, 5.0), peaked(4, 28.0), torch.zeros(V)]]
    target = [[5, 4, PAD]]
    hard = -math.log(5 / 12) + math.log(7 / 12)  # target 5 at p = 5/12
    easy = -math.log(0.8) - 0.2 + math.log(0.25)  # target 4 at p = 0.8
    loss, size, _ = make()(FixedOutputModel(), sample_of(rows, target))
    assert loss.item() == pytest.approx(hard + easy, abs=1e-5) and size == 2
    crit = make(drop_best_ratio=0.5, drop_best_after=10)
    loss, size, _ = crit(FixedOutputModel(), sample_of(rows, target), update_num=10)
    assert size == 2  # not yet: update_num must exceed drop_best_after
    loss, size, log = crit(FixedOutputModel(), sample_of(rows, target), update_num=11)
    assert size == 1 and loss.item() == pytest.approx(hard, abs=1e-5)
    assert log["nll_loss"].item() == pytest.approx(-math.log(5 / 12), abs=1e-5)


def test_drop_worst_then_drop_best():
    rows = [[peaked(5, 1.0), peaked(5, 5.0), peaked(4, 28.0)]]  # p(target) = 1/8, 5/12, 0.8
    target = [[5, 5, 4]]
    crit = make(drop_worst_ratio=0.3, drop_best_ratio=0.5)
    loss, size, _ = crit(FixedOutputModel(), sample_of(rows, target), update_num=1)
    # worst (p = 1/8) dropped: 2 tokens left; best of those (p = 0.8) dropped: p = 5/12 left
    assert size == 1
    assert loss.item() == pytest.approx(-math.log(5 / 12) + math.log(7 / 12), abs=1e-5)


def test_gradient_pushes_the_target_up_more_than_cross_entropy():
    logits = peaked(5, 5.0).unsqueeze(0).unsqueeze(0).requires_grad_(True)
    sample = {
        "net_input": {"logits": logits},
        "target": torch.tensor([[5]]),
        "ntokens": 1,
        "nsentences": 1,
    }
    make(log_end=1.0)(FixedOutputModel(), sample)[0].backward()
    grad_el = logits.grad[0, 0, 5].item()
    # CE gradient on the target logit is p - 1; d ln(1 - p) / dz = -p adds to it: total -1 < p - 1
    p = 5 / 12
    assert grad_el == pytest.approx((p - 1) - p, abs=1e-5)
