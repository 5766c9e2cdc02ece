"""IoU, Acc@thresh and size filters on boxes small enough to compute by hand."""

import pytest
import torch

from unival.metrics.grounding import (
    accuracies_from_statistics,
    area_filter,
    box_iou,
    grounding_hits,
    grounding_statistics,
    parse_thresholds,
    size_category,
)


def test_iou_of_overlapping_boxes():
    # [0,10]x[0,10] vs [5,15]x[0,10]: inter 5*10 = 50, union 100 + 100 - 50 = 150
    iou = box_iou([[0, 0, 10, 10]], [[5, 0, 15, 10]])
    assert iou.item() == pytest.approx(50 / (150 + 1e-6), rel=1e-12)


def test_iou_identical_is_just_below_one_because_of_epsilon():
    iou = box_iou([[0, 0, 2, 2]], [[0, 0, 2, 2]]).item()
    assert iou == 4 / (4 + 1e-6)
    assert iou < 1.0


def test_disjoint_and_touching_boxes_have_zero_iou_and_miss():
    pred = [[0, 0, 10, 10], [0, 0, 10, 10]]
    gt = [[20, 20, 30, 30], [10, 0, 20, 10]]  # disjoint; touching along x = 10
    assert box_iou(pred, gt).tolist() == [0.0, 0.0]
    assert grounding_hits(pred, gt, 0.0).tolist() == [False, False]  # needs positive intersection


def test_degenerate_boxes():
    # a zero-width prediction inside the GT: IoU 0 (area 0), and no positive intersection width
    assert box_iou([[5, 0, 5, 10]], [[0, 0, 10, 10]]).item() == 0.0
    assert not grounding_hits([[5, 0, 5, 10]], [[0, 0, 10, 10]], 0.0).item()
    # both boxes degenerate points: 0 / (0 + 0 - 0 + 1e-6) = 0, never a division by zero
    assert box_iou([[3, 3, 3, 3]], [[3, 3, 3, 3]]).item() == 0.0


def test_threshold_is_inclusive():
    # pred [0,0,10,10], gt [0,0,10,20]: inter 100, union 200 -> 100 / (200 + 1e-6) just below 0.5
    assert not grounding_hits([[0, 0, 10, 10]], [[0, 0, 10, 20]], 0.5).item()
    assert grounding_hits([[0, 0, 10, 10]], [[0, 0, 10, 20]], 0.49).item()
    # pred [0,0,10,15] gt [0,0,10,20]: 150 / (200 + 1e-6), a hair below 0.75
    assert grounding_hits([[0, 0, 10, 15]], [[0, 0, 10, 20]], 0.7499).item()
    assert not grounding_hits([[0, 0, 10, 15]], [[0, 0, 10, 20]], 0.75).item()


def test_area_filters_follow_the_rl_recipe_buckets():
    areas = torch.tensor([100.0, 5000.0, 50000.0])
    assert area_filter(areas).tolist() == [True, True, True]
    assert area_filter(areas, max_area=1000).tolist() == [True, False, False]  # small
    assert area_filter(areas, min_area=10000).tolist() == [False, False, True]  # large
    assert area_filter(areas, min_area=10000, max_area=1000).tolist() == [
        True,
        False,
        True,
    ]  # small+large
    assert area_filter(areas, min_area=10000, max_area=1000, medium=True).tolist() == [
        False,
        True,
        False,
    ]
    assert area_filter(areas, max_area=1000, medium=True).tolist() == [
        False,
        True,
        True,
    ]  # medium+large
    assert area_filter(areas, min_area=10000, medium=True).tolist() == [
        True,
        True,
        False,
    ]  # medium+small


def test_size_categories():
    assert size_category(torch.tensor([29999.0, 30000.0, 100000.0, 100001.0])) == [
        "small",
        "medium",
        "medium",
        "large",
    ]


def test_statistics_and_accuracies():
    pred = [[0, 0, 10, 10], [0, 0, 100, 100], [0, 0, 400, 400]]
    gt = [[0, 0, 10, 10], [200, 200, 300, 300], [0, 0, 400, 300]]  # hit, miss, hit (iou 0.75)
    stats = grounding_statistics(pred, gt, thresholds=[0.5, 0.8])
    assert stats["n"] == 3 and stats["hits@0.5"] == 2 and stats["hits@0.8"] == 1
    assert (stats["n_small"], stats["n_medium"], stats["n_large"]) == (
        2,
        0,
        1,
    )  # 100, 10000, 120000 px²
    assert stats["hits@0.5_small"] == 1 and stats["hits@0.5_large"] == 1
    acc = accuracies_from_statistics(stats)
    assert acc["acc@0.5"] == pytest.approx(2 / 3) and acc["acc@0.8"] == pytest.approx(1 / 3)
    assert acc["acc@0.5_small"] == 0.5 and acc["acc@0.5_large"] == 1.0
    assert "acc@0.5_medium" not in acc
    expected_miou = (100 / (100 + 1e-6) + 0 + 120000 / (160000 + 1e-6)) / 3
    assert acc["miou"] == pytest.approx(expected_miou)
    # a size filter drops rows before counting: keep only GT areas > 1000 px²
    filtered = grounding_statistics(pred, gt, [0.5], min_area=1000)
    assert filtered["n"] == 2 and filtered["hits@0.5"] == 1


def test_parse_thresholds():
    assert parse_thresholds("0.5, 0.75") == [0.5, 0.75]
    assert parse_thresholds(0.5) == [0.5]
    with pytest.raises(ValueError):
        parse_thresholds(" , ")
