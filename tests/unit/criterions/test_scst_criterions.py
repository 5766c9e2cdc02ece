"""scst_reward_criterion (CIDEr, CHAIR) on a fixed-output model.

The generated sequences are fixed (a stand-in for the task's generator), the model returns
logits built from chosen probabilities, so every log-prob, reward, baseline and the loss are
written out by hand below.
"""

import json
import math
from argparse import Namespace

import pytest
import torch
from fairseq.criterions import CRITERION_REGISTRY
from scst_fixtures import BOS, EOS, PAD, FixedGenerations, FixedOutputModel, dictionary

from unival.criterions.scst_caption import (
    ScstRewardCriterion,
    ScstRewardCriterionConfig,
    reduce_reward_metrics,
)
from unival.criterions.scst_common import generated_batch, policy_gradient_loss
from unival.metrics.caption import CiderDocumentFrequency


def logits_from_probs(rows):
    """(1, T, V) logits whose softmax is the given rows of probabilities."""
    return torch.log(torch.tensor(rows, dtype=torch.float64)).unsqueeze(0)


# ------------------------------------------------------------------ captions

WORDS = {4: "a", 5: "cat", 6: "dog"}


class CaptionTask:
    def __init__(self):
        self.cfg = Namespace(scst_args='{"beam": 2}', selected_cols=None)
        self.target_dictionary = dictionary(3)  # ids 4, 5, 6; V = 7
        self.tokenizer = Namespace(
            decode=lambda t: " ".join(WORDS[int(i)] for i in t if int(i) in WORDS)
        )


def spread(entries, v=7):
    """A probability row with the given {id: p} and the rest spread evenly."""
    rest = (1 - sum(entries.values())) / (v - len(entries))
    return [entries.get(i, rest) for i in range(v)]


CAPTION_PROBS = [spread({4: 0.5, 6: 0.25}), spread({5: 0.4, EOS: 0.5}), spread({EOS: 0.9})]


def caption_criterion(baseline="leave-one-out", greedy=None):
    crit = ScstRewardCriterion(
        CaptionTask(), ScstRewardCriterionConfig(sentence_avg=False, scst_baseline=baseline)
    )
    crit.generators = FixedGenerations([[[4, 5, EOS], [6, EOS]]], greedy)
    crit._cider_stats = CiderDocumentFrequency.from_references([["a cat"], ["a dog"]])
    return crit


def caption_sample():
    return {
        "net_input": {"logits": logits_from_probs(CAPTION_PROBS)},
        "target": torch.tensor([[4, 5, EOS]]),
        "references": [["a cat"]],
        "ntokens": 3,
        "nsentences": 1,
    }


def test_registered():
    assert CRITERION_REGISTRY["scst_reward_criterion"] is ScstRewardCriterion


def test_two_samples_leave_one_out():
    # "a cat" scores CIDEr-D 5 against "a cat" (see test_rewards), "dog" scores 0.
    # baselines: 0 for "a cat", 5 for "dog" -> advantages +5 and -5.
    # lp("a cat </s>") = ln .5 + ln .4 + ln .9, lp("dog </s>") = ln .25 + ln .5
    model = FixedOutputModel()
    loss, sample_size, log = caption_criterion()(model, caption_sample())
    expected = -5 * (math.log(0.5) + math.log(0.4) + math.log(0.9)) + 5 * (
        math.log(0.25) + math.log(0.5)
    )
    assert expected == pytest.approx(5 * math.log(0.125 / 0.18))
    assert loss.item() == pytest.approx(expected, abs=1e-9)
    assert sample_size == 5 and log["ntokens"] == 5 and log["nsentences"] == 2
    assert log["reward"] == pytest.approx(5.0)
    assert model.prev.tolist() == [[BOS, 4, 5], [BOS, 6, PAD]]


def test_greedy_baseline():
    # greedy caption "a cat" -> baseline 5 for both samples: advantages 0 and -5
    loss, _, _ = caption_criterion("greedy", greedy=[[[4, 5, EOS]]])(
        FixedOutputModel(), caption_sample()
    )
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
    assert prev.tolist() == [[BOS, 7, 8], [BOS, PAD, PAD]] and target.tolist() == [
        [7, 8, EOS],
        [9, PAD, PAD],
    ]
    lprobs = torch.log(torch.full((2, 3, 10), 0.1))
    loss, n = policy_gradient_loss(lprobs, target, torch.tensor([2.0, -1.0]), PAD)
    assert n == 4 and loss.item() == pytest.approx(-(2 * 3 - 1) * math.log(0.1))


# ------------------------------------------------------------------ captions with a CHAIR penalty
#
# Both rows have the references "a cat" and "a dog" and generate "a cat" and "a dog": with the
# document frequencies above each caption scores CIDEr-D 10 * (1 + 1) / 4 = 5 against its own
# reference and 0 against the other one, so 2.5 both, and only the penalty tells them apart.
# Ground truth (COCO instances): image 12 holds a cat only, image 13 a cat and a dog.


def write_instances(path):
    payload = {
        "images": [{"id": 12}, {"id": 13}],
        "categories": [{"id": 17, "name": "cat"}, {"id": 18, "name": "dog"}],
        "annotations": [
            {"image_id": 12, "category_id": 17},
            {"image_id": 13, "category_id": 17},
            {"image_id": 13, "category_id": 18},
        ],
    }
    path.write_text(json.dumps(payload))
    return str(path)


def chair_criterion(gt_path, penalty, baseline="leave-one-out", greedy=None, bonus=0.0):
    cfg = ScstRewardCriterionConfig(
        sentence_avg=False,
        scst_baseline=baseline,
        scst_chair_penalty=penalty,
        scst_chair_gt=gt_path,
        scst_chair_bonus=bonus,
    )
    crit = ScstRewardCriterion(CaptionTask(), cfg)
    crit.generators = FixedGenerations([[[4, 5, EOS], [4, 6, EOS]]] * 2, greedy)
    crit._cider_stats = CiderDocumentFrequency.from_references([["a cat"], ["a dog"]])
    return crit


ROW_A = [spread({4: 0.5}), spread({5: 0.4, 6: 0.25}), spread({EOS: 0.9})]  # p(cat) .4, p(dog) .25
ROW_B = [spread({4: 0.5}), spread({5: 0.2, 6: 0.5}), spread({EOS: 0.9})]  # p(cat) .2, p(dog) .5


def chair_sample(uniq_ids=("12", "13")):
    logits = torch.cat([logits_from_probs(ROW_A), logits_from_probs(ROW_B)])
    return {
        "net_input": {"logits": logits},
        "target": torch.tensor([[4, 5, EOS]] * 2),
        "references": [["a cat", "a dog"]] * 2,
        "uniq_ids": list(uniq_ids),
        "ntokens": 6,
        "nsentences": 2,
    }


def test_chair_penalty_lowers_the_hallucinating_caption(tmp_path):
    crit = chair_criterion(write_instances(tmp_path / "instances.json"), penalty=1.0)
    loss, sample_size, log = crit(FixedOutputModel(), chair_sample())
    # row 0 (image 12, no dog): rewards 2.5 - 0 and 2.5 - 1 -> leave-one-out advantages +1, -1;
    # row 1 (image 13, cat and dog): 2.5 and 2.5 -> advantages 0. The shared "a" and EOS cancel:
    # loss = -(ln .4 - ln .25) with row 0's probabilities (row 1's, .2 and .5, would give -ln .4)
    assert loss.item() == pytest.approx(math.log(0.25 / 0.4), abs=1e-9)
    assert (log["cider"], log["hallucinated"], log["reward"]) == pytest.approx((10.0, 1.0, 9.0))
    assert sample_size == 12 and log["nsentences"] == 4
    # lambda = 0 with the ground truth: equal rewards, no gradient, hallucinations still logged
    loss, _, log = chair_criterion(str(tmp_path / "instances.json"), penalty=0.0)(
        FixedOutputModel(), chair_sample()
    )
    assert loss.item() == 0.0 and (log["cider"], log["hallucinated"], log["reward"]) == (
        10.0,
        1.0,
        10.0,
    )


def test_chair_penalty_scales_with_lambda_and_rows_follow_uniq_ids(tmp_path):
    gt = write_instances(tmp_path / "instances.json")
    # rows swapped: row 0 is image 13 (advantages 0), row 1 image 12: rewards 2.5, 2.5 - 3
    # -> advantages +3, -3
    loss, _, log = chair_criterion(gt, penalty=3.0)(FixedOutputModel(), chair_sample(("13", "12")))
    assert loss.item() == pytest.approx(-3 * (math.log(0.2) - math.log(0.5)), abs=1e-9)
    assert log["reward"] == pytest.approx(10.0 - 3.0)


def test_chair_bonus_rewards_correct_mentions(tmp_path):
    gt = write_instances(tmp_path / "instances.json")
    # correct mentions: image 12 "a cat" 1, "a dog" 0; image 13 both 1.
    # bonus 1 alone: row 0 rewards 3.5 and 2.5 -> advantages +1, -1; row 1 3.5 and 3.5 -> 0
    loss, _, log = chair_criterion(gt, penalty=0.0, bonus=1.0)(FixedOutputModel(), chair_sample())
    assert loss.item() == pytest.approx(math.log(0.25 / 0.4), abs=1e-9)
    assert (log["correct"], log["hallucinated"], log["reward"]) == pytest.approx((3.0, 1.0, 13.0))
    # penalty 1 and bonus 2: row 0 rewards 2.5 + 2 = 4.5 and 2.5 - 1 = 1.5 -> advantages +3, -3
    # (with two captions the leave-one-out baseline is the other caption's reward)
    loss, _, log = chair_criterion(gt, penalty=1.0, bonus=2.0)(FixedOutputModel(), chair_sample())
    assert loss.item() == pytest.approx(3 * math.log(0.25 / 0.4), abs=1e-9)
    assert log["reward"] == pytest.approx(10.0 - 1.0 + 2 * 3.0)


def test_chair_penalty_applies_to_the_greedy_baseline(tmp_path):
    gt = write_instances(tmp_path / "instances.json")
    # greedy captions "a dog" for both rows: baselines 2.5 - 2 (image 12) and 2.5 (image 13)
    # -> row 0 advantages 2.5 - 0.5 = +2 and 0.5 - 0.5 = 0; row 1: 0 and 0
    crit = chair_criterion(gt, penalty=2.0, baseline="greedy", greedy=[[[4, 6, EOS]]] * 2)
    loss, _, _ = crit(FixedOutputModel(), chair_sample())
    assert loss.item() == pytest.approx(
        -2 * (math.log(0.5) + math.log(0.4) + math.log(0.9)), abs=1e-9
    )


def test_chair_unknown_uniq_id_names_it_and_the_file(tmp_path):
    gt = write_instances(tmp_path / "instances.json")
    with pytest.raises(ValueError, match=r"uniq_id '12_0' .*instances\.json"):
        chair_criterion(gt, penalty=1.0)(FixedOutputModel(), chair_sample(("13", "12_0")))
    sample = chair_sample()
    del sample["uniq_ids"]
    with pytest.raises(ValueError, match="uniq_id"):
        chair_criterion(gt, penalty=1.0)(FixedOutputModel(), sample)


def test_chair_toy_world_rows_are_images(tmp_path):
    from unival.toy_world.build import generate_scenes
    from unival.toy_world.captions import scene_captions
    from unival.toy_world.scene import ToyObject
    from unival.toy_world.writers import write_scenes_json

    scenes = generate_scenes("train", 2, 0, 64)
    scenes[1].objects = [ToyObject("circle", "red", "big", (0, 0, 30, 30))]
    write_scenes_json(
        tmp_path / "scenes.json", "train", 0, 64, scenes, [scene_captions(s) for s in scenes]
    )
    crit = chair_criterion(str(tmp_path / "scenes.json"), penalty=1.0)
    # the valid-style row "1" (uniq_id = image id) finds scene 1; a train-style "1_0" row does not
    assert crit.row_objects({"uniq_ids": ["1"]}, 1) == [{"red circle", "circle"}]
    with pytest.raises(
        ValueError, match=r"uniq_id '1_0' .*scenes\.json: SCST rows need uniq_id = image id"
    ):
        crit.row_objects({"uniq_ids": ["1_0"]}, 1)


def test_chair_options_are_checked_when_the_criterion_is_built(tmp_path):
    with pytest.raises(ValueError, match="needs --scst-chair-gt"):
        chair_criterion(None, penalty=0.5)
    with pytest.raises(ValueError, match=">= 0, got -1"):
        chair_criterion(write_instances(tmp_path / "instances.json"), penalty=-1.0)
    assert chair_criterion(None, penalty=0.0).chair_gt is None  # off: no ground truth needed
    with pytest.raises(ValueError, match="--scst-chair-bonus > 0 needs --scst-chair-gt"):
        chair_criterion(None, penalty=0.0, bonus=1.0)
    with pytest.raises(ValueError, match="--scst-chair-bonus must be >= 0"):
        chair_criterion(write_instances(tmp_path / "instances.json"), penalty=0.0, bonus=-0.5)


def test_reduce_metrics_logs_cider_and_hallucinated_only_when_given():
    from fairseq import metrics

    caption_logs = [
        {
            "loss": 1.0,
            "reward": 9.0,
            "cider": 10.0,
            "hallucinated": 1.0,
            "ntokens": 12,
            "nsentences": 4,
            "sample_size": 12,
        }
    ] * 2
    with metrics.aggregate() as agg:
        reduce_reward_metrics(caption_logs)
    values = agg.get_smoothed_values()
    assert (values["reward"], values["cider"], values["hallucinated"]) == (2.25, 2.5, 0.25)
    grounding_logs = [{"loss": 1.0, "reward": 1.0, "ntokens": 8, "nsentences": 2, "sample_size": 8}]
    with metrics.aggregate() as agg:
        reduce_reward_metrics(grounding_logs)
    values = agg.get_smoothed_values()
    assert values["reward"] == 0.5 and "cider" not in values and "hallucinated" not in values
