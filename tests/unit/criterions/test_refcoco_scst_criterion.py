"""refcoco_scst_reward_criterion on a fixed-output model: every log-prob, box reward and the
loss written out by hand below."""

import math
from argparse import Namespace

import pytest
import torch
from fairseq.criterions import CRITERION_REGISTRY
from scst_fixtures import BOS, EOS, FixedGenerations, FixedOutputModel, dictionary

from unival.criterions.refcoco_scst import (
    RefcocoScstRewardCriterion,
    RefcocoScstRewardCriterionConfig,
)
from unival.tasks.refcoco import RefcocoTask

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
    crit = RefcocoScstRewardCriterion(
        GroundingTask(), RefcocoScstRewardCriterionConfig(sentence_avg=False, **cfg)
    )
    # row 0 predicts the GT box [0, 0, 4, 4] exactly (reward 1), row 1 misses it
    # ([5, 5, 9, 9], reward 0)
    crit.generators = FixedGenerations(
        [[box_tokens(0, 0, 4, 4) + [EOS]], [box_tokens(5, 5, 9, 9) + [EOS]]]
    )
    # every position: p = 0.5 on <bin_5>, the other 14 ids share 0.5
    probs = [[0.5 if i == BIN0 + 5 else 0.5 / 14 for i in range(V_BOX)]] * 4
    logits = torch.log(torch.tensor([probs, probs], dtype=torch.float64))
    sample = {
        "net_input": {"logits": logits},
        "target": torch.tensor([box_tokens(0, 0, 4, 4) + [EOS]] * 2),
        "w_resize_ratios": torch.tensor([1.0, 1.0]),
        "h_resize_ratios": torch.tensor([1.0, 1.0]),
        "region_coords": torch.tensor([[0.0, 0.0, 4.0, 4.0]] * 2),  # area 16
    }
    model = FixedOutputModel()
    return crit(model, sample), model


LOW, HIGH = math.log(0.5 / 14), math.log(0.5)


def test_registered():
    assert CRITERION_REGISTRY["refcoco_scst_reward_criterion"] is RefcocoScstRewardCriterion


def test_grounding_reward_weights_the_generated_bins_without_baseline():
    (loss, sample_size, log), model = grounding_run()
    assert loss.item() == pytest.approx(
        -4 * LOW, abs=1e-9
    )  # only row 0 (reward 1), 4 bins at p = 1/28
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
