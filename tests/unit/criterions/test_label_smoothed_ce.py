"""adjust_label_smoothed_cross_entropy on a fixed-output model, against hand-computed values.

Vocabulary: fairseq's 4 specials (<s>=0, <pad>=1, </s>=2, <unk>=3) plus 4 symbols (ids 4..7), V = 8.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from fairseq.criterions import CRITERION_REGISTRY
from fairseq.data import Dictionary
from fairseq.logging import metrics

from unival.criterions.label_smoothed_ce import (
    AdjustLabelSmoothedCrossEntropyConfig,
    AdjustLabelSmoothedCrossEntropyCriterion,
    symmetric_kl,
)
from unival.models.perf import plain_path

V = 8
PAD, EOS = 1, 2
NEG = -math.inf


class FixedOutputModel(torch.nn.Module):
    """Returns the logits it is given in net_input (so batch duplication duplicates them)."""

    def forward(self, logits):
        return logits, {}

    def get_normalized_probs(self, net_output, log_probs, sample=None):
        self.normalized_shape = tuple(net_output[0].shape)
        return F.log_softmax(net_output[0].float(), dim=-1)

    def get_targets(self, sample, net_output):
        return sample["target"]


class Task:
    def __init__(self):
        self.target_dictionary = Dictionary()
        for sym in "abcd":
            self.target_dictionary.add_symbol(sym)
        assert len(self.target_dictionary) == V


def make_criterion(**kwargs):
    cfg = AdjustLabelSmoothedCrossEntropyConfig(sentence_avg=False, **kwargs)
    return AdjustLabelSmoothedCrossEntropyCriterion(Task(), cfg)


def row(**entries):
    """A logit row of zeros with some entries set, e.g. row(**{"5": math.log(5)})."""
    r = torch.zeros(V)
    for k, v in entries.items():
        r[int(k)] = v
    return r


def batch(logits, target, **extra):
    logits = torch.stack([torch.stack(r) for r in logits])  # (B, T, V)
    target = torch.tensor(target)
    sample = {
        "net_input": {"logits": logits},
        "target": target,
        "ntokens": int(target.ne(PAD).sum()),
        "nsentences": target.size(0),
    }
    sample.update(extra)
    return sample


HALF5 = row(**{"5": math.log(7)})  # exps: seven 1s and one 7 -> p(5) = 7/14 = 1/2, others 1/14


def test_registered():
    assert (
        CRITERION_REGISTRY["adjust_label_smoothed_cross_entropy"]
        is AdjustLabelSmoothedCrossEntropyCriterion
    )
    assert AdjustLabelSmoothedCrossEntropyCriterion.logging_outputs_can_be_summed()


def test_eps_zero_is_nll_and_pads_are_ignored():
    uniform = torch.zeros(V)
    sample = batch([[HALF5, uniform, uniform]], [[5, 4, PAD]])
    loss, sample_size, log = make_criterion()(FixedOutputModel(), sample)
    expected = math.log(2) + math.log(V)  # -log(1/2) - log(1/8)
    assert loss.item() == pytest.approx(expected, abs=1e-5)
    assert log["nll_loss"].item() == pytest.approx(expected, abs=1e-5)
    assert sample_size == 2 and log["ntokens"] == 2 and log["nsentences"] == 1


def test_eps_positive_formula():
    eps = 0.1
    sample = batch([[HALF5]], [[5]])
    loss, _, log = make_criterion(label_smoothing=eps)(FixedOutputModel(), sample)
    # nll = ln 2; smooth = 7 ln 14 + ln 2; eps_i = eps / 7
    nll, smooth, eps_i = math.log(2), 7 * math.log(14) + math.log(2), eps / 7
    expected = (1 - eps - eps_i) * nll + eps_i * smooth  # = (1 - eps) ln 2 + eps ln 14
    assert expected == pytest.approx((1 - eps) * math.log(2) + eps * math.log(14))
    assert loss.item() == pytest.approx(expected, abs=1e-5)
    assert log["nll_loss"].item() == pytest.approx(nll, abs=1e-5)


def test_constraint_masks_restrict_logits_and_smoothing_set():
    eps = 0.2
    mask = torch.zeros(1, 1, V, dtype=torch.bool)
    mask[0, 0, [2, 4, 5]] = True
    logits = row(**{"5": math.log(5), "6": 3.0})  # id 6 is masked away
    sample = batch([[logits]], [[5]], constraint_masks=mask)
    loss, _, log = make_criterion(label_smoothing=eps)(FixedOutputModel(), sample)
    # allowed exps 1, 1, 5 -> p(5) = 5/7, p(2) = p(4) = 1/7; |A| = 3 so eps_i = eps / 2
    expected = (1 - eps) * math.log(7 / 5) + eps * math.log(7)
    assert loss.item() == pytest.approx(expected, abs=1e-5)
    assert log["nll_loss"].item() == pytest.approx(math.log(7 / 5), abs=1e-5)


def test_constraint_range_keeps_specials_and_range():
    eps = 0.1
    logits = row(**{"5": math.log(4), "6": 5.0, "7": 5.0})  # 6 and 7 fall outside [5, 6)
    sample = batch([[logits]], [[5]])
    loss, _, _ = make_criterion(label_smoothing=eps, constraint_range="5,6")(
        FixedOutputModel(), sample
    )
    # allowed {0,1,2,3,5}: exps 1,1,1,1,4 -> p(5) = 1/2, specials 1/8; eps_i = eps / 4
    expected = (1 - eps) * math.log(2) + eps * math.log(8)
    assert loss.item() == pytest.approx(expected, abs=1e-5)


def test_conf_scales_each_sample():
    sample = batch([[HALF5], [HALF5]], [[5], [5]], conf=torch.tensor([0.5, 1.0]))
    loss, _, _ = make_criterion()(FixedOutputModel(), sample)
    assert loss.item() == pytest.approx(1.5 * math.log(2), abs=1e-5)


def test_drop_worst_keeps_lowest_loss_tokens_after_threshold():
    # token nlls: ln 2 (id 5 in HALF5), ln 14 (id 4 in HALF5), ln 8 (uniform), ln 2
    uniform = torch.zeros(V)
    sample = batch([[HALF5, HALF5], [uniform, HALF5]], [[5, 4], [4, 5]])
    crit = make_criterion(drop_worst_ratio=0.5, drop_worst_after=10)
    all_tokens = math.log(2) * 2 + math.log(14) + math.log(8)
    loss, size, _ = crit(FixedOutputModel(), sample, update_num=10)
    assert size == 4 and loss.item() == pytest.approx(all_tokens, abs=1e-5)
    loss, size, log = crit(FixedOutputModel(), sample, update_num=11)
    assert size == 2 and loss.item() == pytest.approx(2 * math.log(2), abs=1e-5)
    assert log["ntokens"] == 4  # the batch's tokens; sample_size counts the kept ones


def test_list_input_normalises_each_sub_batch():
    uniform = torch.zeros(V)
    first = batch([[HALF5, HALF5]], [[5, 5]])  # 2 tokens, sum ln 2 + ln 2
    second = batch([[uniform, uniform, uniform]], [[4, 4, PAD]])  # 2 tokens, sum 2 ln 8
    loss, size, log = make_criterion()(FixedOutputModel(), [first, second])
    assert size == 1 and log["sample_size"] == 1
    assert loss.item() == pytest.approx(math.log(2) + math.log(8), abs=1e-5)
    assert log["loss_v1"].item() == pytest.approx(2 * math.log(2), abs=1e-5)
    assert log["sample_size_v2"] == 2 and log["ntokens"] == 4 and log["nsentences"] == 2


def test_ignore_prefix_and_eos():
    uniform = torch.zeros(V)
    sample = batch([[uniform, HALF5, HALF5]], [[4, 5, EOS]])
    loss, size, _ = make_criterion(ignore_prefix_size=1, ignore_eos=True)(
        FixedOutputModel(), sample
    )
    assert size == 1 and loss.item() == pytest.approx(math.log(2), abs=1e-5)


def test_report_accuracy_and_reduce_metrics():
    sample = batch([[HALF5, HALF5]], [[5, 4]])  # argmax 5: first right, second wrong
    crit = make_criterion(report_accuracy=True)
    _, _, log = crit(FixedOutputModel(), sample)
    assert (log["n_correct"], log["total"]) == (1, 2)
    with metrics.aggregate(new_root=True) as agg:
        crit.reduce_metrics([log, log])
        values = agg.get_smoothed_values()
    assert values["loss"] == pytest.approx((math.log(2) + math.log(14)) / 2, abs=1e-3)
    assert values["accuracy"] == pytest.approx(50.0)
    assert values["ppl"] == pytest.approx(math.exp((math.log(2) + math.log(14)) / 2), abs=0.01)


def test_rdrop_identical_passes_double_the_loss():
    sample = batch([[HALF5]], [[5]])
    loss, size, log = make_criterion(use_rdrop=True)(FixedOutputModel(), sample)
    assert size == 2 and log["nsentences"] == 2
    assert loss.item() == pytest.approx(2 * math.log(2), abs=1e-5)  # KL of identical passes is 0
    assert sample["net_input"]["logits"].size(0) == 1  # the caller's batch is not modified


def test_symmetric_kl_by_hand():
    p = torch.tensor([[0.5, 0.5]]).log()
    q = torch.tensor([[0.9, 0.1]]).log()
    kl_qp = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    kl_pq = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert symmetric_kl(p, q).item() == pytest.approx((kl_qp + kl_pq) / 2, abs=1e-6)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"label_smoothing": 0.1},
        {"label_smoothing": 0.1, "constraint_range": "4,7"},
        {"label_smoothing": 0.1, "ignore_prefix_size": 1, "ignore_eos": True},
        {"report_accuracy": True, "drop_worst_ratio": 0.3},
    ],
)
@pytest.mark.parametrize("with_masks_and_conf", [False, True, "conf of ones"])
def test_fast_path_selects_rows_first_with_the_plain_paths_bits(options, with_masks_and_conf):
    """The fast path normalises only the kept rows (and skips a conf of ones); loss, log and
    logit gradients are equal to the plain path's bit for bit."""
    gen = torch.Generator().manual_seed(3)
    B, T = 4, 6
    logits = torch.randn(B, T, V, generator=gen) * 3
    target = torch.randint(4, V, (B, T), generator=gen)
    target[0, 4:], target[2, 2:], target[3, 5] = PAD, PAD, EOS
    extra = {}
    if with_masks_and_conf == "conf of ones":
        extra = {"conf": torch.ones(B)}
    elif with_masks_and_conf:
        masks = torch.rand(B, T, V, generator=gen) > 0.4
        masks.scatter_(-1, target.unsqueeze(-1), True)
        extra = {"constraint_masks": masks, "conf": torch.tensor([0.5, 1.0, 0.25, 2.0])}
    results = {}
    for plain in (True, False):
        leaf = logits.clone().requires_grad_()
        sample = {"net_input": {"logits": leaf}, "target": target, "ntokens": 1, "nsentences": B}
        model = FixedOutputModel()
        with plain_path(plain):
            loss, size, log = make_criterion(**options)(model, {**sample, **extra}, update_num=5)
            loss.backward()
        results[plain] = (loss.detach(), size, log, leaf.grad, model.normalized_shape)
    (p_loss, p_size, p_log, p_grad, p_shape), (f_loss, f_size, f_log, f_grad, f_shape) = (
        results[True],
        results[False],
    )
    assert torch.equal(f_loss, p_loss) and torch.equal(f_grad, p_grad)
    assert f_size == p_size and torch.equal(f_log["nll_loss"], p_log["nll_loss"])
    assert f_log.get("n_correct") == p_log.get("n_correct")
    prefix = options.get("ignore_prefix_size", 0)
    assert p_shape == (B, T - prefix, V)
    kept = target[:, prefix:].ne(PAD) & (target[:, prefix:].ne(EOS) | ("ignore_eos" not in options))
    assert f_shape == (int(kept.sum()), V)
    assert p_grad[target.eq(PAD)].abs().sum() == 0 and p_grad.abs().sum() > 0
