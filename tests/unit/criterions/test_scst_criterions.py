"""scst_reward_criterion and refcoco_scst_reward_criterion on a fixed-output model.

The generated sequences are fixed (a stand-in for the task's generator), the model returns
logits built from chosen probabilities, so every log-prob, reward, baseline and the loss are
written out by hand below.
"""
import math
from argparse import Namespace

import pytest
import torch
import torch.nn.functional as F
from fairseq.criterions import CRITERION_REGISTRY
from fairseq.data import Dictionary

from unival.criterions.refcoco_scst import (
    RefcocoScstRewardCriterion,
    RefcocoScstRewardCriterionConfig,
)
from unival.criterions.scst_caption import ScstRewardCriterion, ScstRewardCriterionConfig
from unival.criterions.scst_common import generated_batch, policy_gradient_loss
from unival.metrics.caption import CiderDocumentFrequency
from unival.tasks.refcoco import RefcocoTask

BOS, PAD, EOS = 0, 1, 2


class FixedOutputModel(torch.nn.Module):
    """Returns ``logits`` from net_input whatever the decoder input; records that input."""

    def forward(self, logits, prev_output_tokens=None):
        self.prev = prev_output_tokens
        return logits[:, : prev_output_tokens.size(1)], {}

    def get_normalized_probs(self, net_output, log_probs, sample=None):
        return F.log_softmax(net_output[0].double(), dim=-1)


class FixedGenerations:
    """Stands in for ScstGenerators: the same hypotheses for every call."""

    def __init__(self, sampled, greedy=None):
        self.sampled, self.greedy = sampled, greedy

    def generate(self, model, sample, greedy=False):
        rows = self.greedy if greedy else self.sampled
        return [[torch.tensor(h) for h in row] for row in rows]


def dictionary(n_symbols: int) -> Dictionary:
    d = Dictionary()
    for i in range(n_symbols):
        d.add_symbol(f"w{i}")
    return d


def logits_from_probs(rows):
    """(1, T, V) logits whose softmax is the given rows of probabilities."""
    return torch.log(torch.tensor(rows, dtype=torch.float64)).unsqueeze(0)


# --------------------------------------------------------------------------- captions

WORDS = {4: "a", 5: "cat", 6: "dog"}


class CaptionTask:
    def __init__(self):
        self.cfg = Namespace(scst_args='{"beam": 2}', selected_cols=None)
        self.target_dictionary = dictionary(3)  # ids 4, 5, 6; V = 7
        self.tokenizer = Namespace(decode=lambda t: " ".join(WORDS[int(i)] for i in t if int(i) in WORDS))


def spread(entries, v=7):
    """A probability row with the given {id: p} and the rest spread evenly."""
    rest = (1 - sum(entries.values())) / (v - len(entries))
    return [entries.get(i, rest) for i in range(v)]


CAPTION_PROBS = [spread({4: 0.5, 6: 0.25}), spread({5: 0.4, EOS: 0.5}), spread({EOS: 0.9})]


def caption_criterion(baseline="leave-one-out", greedy=None):
    crit = ScstRewardCriterion(CaptionTask(), ScstRewardCriterionConfig(sentence_avg=False, scst_baseline=baseline))
    crit.generators = FixedGenerations([[[4, 5, EOS], [6, EOS]]], greedy)
    crit._cider_stats = CiderDocumentFrequency.from_references([["a cat"], ["a dog"]])
    return crit


def caption_sample():
    return {"net_input": {"logits": logits_from_probs(CAPTION_PROBS)}, "target": torch.tensor([[4, 5, EOS]]),
            "references": [["a cat"]], "ntokens": 3, "nsentences": 1}


def test_registered():
    assert CRITERION_REGISTRY["scst_reward_criterion"] is ScstRewardCriterion
    assert CRITERION_REGISTRY["refcoco_scst_reward_criterion"] is RefcocoScstRewardCriterion


def test_two_samples_leave_one_out():
    # "a cat" scores CIDEr-D 5 against "a cat" (see test_rewards), "dog" scores 0.
    # baselines: 0 for "a cat", 5 for "dog" -> advantages +5 and -5.
    # lp("a cat </s>") = ln .5 + ln .4 + ln .9, lp("dog </s>") = ln .25 + ln .5
    model = FixedOutputModel()
    loss, sample_size, log = caption_criterion()(model, caption_sample())
    expected = -5 * (math.log(0.5) + math.log(0.4) + math.log(0.9)) + 5 * (math.log(0.25) + math.log(0.5))
    assert expected == pytest.approx(5 * math.log(0.125 / 0.18))
    assert loss.item() == pytest.approx(expected, abs=1e-9)
    assert sample_size == 5 and log["ntokens"] == 5 and log["nsentences"] == 2
    assert log["reward"] == pytest.approx(5.0)
    assert model.prev.tolist() == [[BOS, 4, 5], [BOS, 6, PAD]]


def test_greedy_baseline():
    # greedy caption "a cat" -> baseline 5 for both samples: advantages 0 and -5
    loss, _, _ = caption_criterion("greedy", greedy=[[[4, 5, EOS]]])(FixedOutputModel(), caption_sample())
    assert loss.item() == pytest.approx(5 * (math.log(0.25) + math.log(0.5)), abs=1e-9)


def test_the_gradient_raises_the_better_caption():
    sample = caption_sample()
    logits = sample["net_input"]["logits"].clone().requires_grad_(True)
    sample["net_input"]["logits"] = logits
    caption_criterion()(FixedOutputModel(), sample)[0].backward()
    # descending the loss raises "a" (rewarded) and lowers "dog" (penalised) at the first step
    assert logits.grad[0, 0, 4].item() < 0 < logits.grad[0, 0, 6].item()


def test_missing_references_is_a_clear_error():
    sample = caption_sample()
    del sample["references"]
    with pytest.raises(ValueError, match="--scst"):
        caption_criterion()(FixedOutputModel(), sample)


def test_generated_batch_and_policy_gradient_loss():
    prev, target = generated_batch([torch.tensor([7, 8, EOS]), torch.tensor([9])], BOS, PAD)
    assert prev.tolist() == [[BOS, 7, 8], [BOS, PAD, PAD]] and target.tolist() == [[7, 8, EOS], [9, PAD, PAD]]
    lprobs = torch.log(torch.full((2, 3, 10), 0.1))
    loss, n = policy_gradient_loss(lprobs, target, torch.tensor([2.0, -1.0]), PAD)
    assert n == 4 and loss.item() == pytest.approx(-(2 * 3 - 1) * math.log(0.1))


# --------------------------------------------------------------------------- grounding

NUM_BINS, BIN0 = 11, 4  # <bin_0> .. <bin_10> are ids 4 .. 14; V = 15
V_BOX = BIN0 + NUM_BINS


class GroundingTask:
    """What the criterion uses of the refcoco task; boxes de-quantised by the task's own method."""

    tokens_to_original_box = RefcocoTask.tokens_to_original_box

    def __init__(self):
        self.cfg = Namespace(scst_args="{}", max_image_size=10)  # bin k -> k pixels (10 / (11 - 1))
        self.tokenizer = Namespace(eos=EOS, bin_offset=BIN0, num_bins=NUM_BINS)
        self.target_dictionary = dictionary(NUM_BINS)


def box_tokens(*bins):
    return [BIN0 + b for b in bins]


def grounding_run(**cfg):
    crit = RefcocoScstRewardCriterion(GroundingTask(), RefcocoScstRewardCriterionConfig(sentence_avg=False, **cfg))
    # row 0 predicts the GT box [0, 0, 4, 4] exactly (reward 1), row 1 misses it ([5, 5, 9, 9], reward 0)
    crit.generators = FixedGenerations([[box_tokens(0, 0, 4, 4) + [EOS]], [box_tokens(5, 5, 9, 9) + [EOS]]])
    # every position: p = 0.5 on <bin_5>, the other 14 ids share 0.5
    probs = [[0.5 if i == BIN0 + 5 else 0.5 / 14 for i in range(V_BOX)]] * 4
    logits = torch.log(torch.tensor([probs, probs], dtype=torch.float64))
    sample = {
        "net_input": {"logits": logits},
        "target": torch.tensor([box_tokens(0, 0, 4, 4) + [EOS]] * 2),
        "w_resize_ratios": torch.tensor([1.0, 1.0]), "h_resize_ratios": torch.tensor([1.0, 1.0]),
        "region_coords": torch.tensor([[0.0, 0.0, 4.0, 4.0]] * 2),  # area 16
    }
    model = FixedOutputModel()
    return crit(model, sample), model


LOW, HIGH = math.log(0.5 / 14), math.log(0.5)


def test_grounding_reward_weights_the_generated_bins_without_baseline():
    (loss, sample_size, log), model = grounding_run()
    assert loss.item() == pytest.approx(-4 * LOW, abs=1e-9)  # only row 0 (reward 1), 4 bins at p = 1/28
    assert sample_size == 8 and log["reward"] == 1.0 and log["nsentences"] == 2
    assert model.prev.tolist() == [[BOS] + box_tokens(0, 0, 4), [BOS] + box_tokens(5, 5, 9)]


def test_grounding_lambda_reinforce_adds_ground_truth_cross_entropy():
    (loss, _, _), _ = grounding_run(lambda_reinforce=5.0)
    ce = -8 * LOW  # both rows' GT bins 0, 0, 4, 4, none of them <bin_5>
    assert loss.item() == pytest.approx(ce + 5 * (-4 * LOW), abs=1e-9)


def test_grounding_area_filter_and_neg_reward():
    (loss, _, log), _ = grounding_run(max_area_size=10.0)  # "small" only: the 16 px² GT is out
    assert loss.item() == 0.0 and log["reward"] == 0.0
    (loss, _, log), _ = grounding_run(max_area_size=10.0, neg_reward=-1.0)
    # both rows reward -1: row 0 bins 0,0,4,4 at 1/28; row 1 bins 5,5,9,9: two at 1/2, two at 1/28
    assert loss.item() == pytest.approx(4 * LOW + 2 * HIGH + 2 * LOW, abs=1e-9)
    (loss, _, log), _ = grounding_run(min_area_size=10.0)  # "large" only: 16 > 10, rewarded
    assert log["reward"] == 1.0


def test_grounding_iou_reward():
    (loss, _, log), _ = grounding_run(metric="iou")
    assert log["reward"] == pytest.approx(1.0, abs=1e-6)  # IoU 1 for row 0, 0 for row 1
