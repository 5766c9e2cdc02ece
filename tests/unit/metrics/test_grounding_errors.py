"""Grounding error analysis on hand-made boxes; every expected value is worked out by hand."""

import math

import numpy as np
import pytest

from unival.metrics.grounding_errors import (
    best_constant_box,
    bin_scale,
    centre_quadrant,
    constant_box_accuracy,
    coordinate_errors,
    distinct_boxes,
    fractions,
    grouped_accuracy,
    iou_histogram,
    mean_box,
    placement,
    prior_entropy,
    random_object_accuracy,
    size_summary,
    to_bins,
)

TARGET = [0, 0, 10, 10]


def test_bins_of_a_64px_image_resized_to_64_with_1000_bins_over_512():
    scale = bin_scale(64, 64, 512, 1000)
    assert scale == pytest.approx(999 / 512)
    # 10 * 1.9512 = 19.51 -> 20; 32 -> 62.44 -> 62; 64 -> 124.88 -> 125
    assert to_bins([[0, 10, 32, 64]], scale, scale).tolist() == [[0, 20, 62, 125]]
    # an image twice as large, resized to the same 64 px: half the bins per pixel
    assert bin_scale(128, 64, 512, 1000) == pytest.approx(999 / 1024)


def test_bins_scale_x_and_y_separately():
    assert to_bins([[1, 2, 3, 4]], 2.0, 0.5).tolist() == [[2, 1, 6, 2]]


def test_coordinate_errors_mean_median_and_signed_bias():
    pred = [[0, 0, 10, 10], [4, 4, 8, 8], [9, 0, 10, 1]]
    gt = [[2, 0, 10, 6], [0, 4, 8, 14], [0, 0, 10, 1]]
    # pred - gt: x0 (-2, 4, 9), y0 0, x1 0, y1 (4, -6, 0)
    err = coordinate_errors(pred, gt)
    assert err["x0"] == pytest.approx({"mean_abs": 5.0, "median_abs": 4.0, "bias": 11 / 3})
    assert err["y0"] == {"mean_abs": 0.0, "median_abs": 0.0, "bias": 0.0}
    assert err["x1"] == {"mean_abs": 0.0, "median_abs": 0.0, "bias": 0.0}
    assert err["y1"] == pytest.approx({"mean_abs": 10 / 3, "median_abs": 4.0, "bias": -2 / 3})


def test_coordinate_errors_reject_unaligned_boxes():
    with pytest.raises(ValueError, match="2 predicted boxes vs 1"):
        coordinate_errors([TARGET, TARGET], [TARGET])


def test_placement_target_other_none():
    other = [20, 0, 30, 10]
    pred = [
        TARGET,  # exactly the target
        other,  # exactly the other object
        [40, 40, 50, 50],  # nothing
        [1, 0, 11, 10],  # IoU 90 / 110 = 0.82 with the target
        [5, 0, 15, 10],  # IoU 50 / 150 = 0.33 with the target, none with the other
    ]
    places = placement(pred, [TARGET] * 5, [[other]] * 5)
    assert places == ["target", "other", "none", "target", "none"]
    assert fractions(places) == {"target": 0.4, "other": 0.2, "none": 0.4}


def test_placement_prefers_the_target_and_accepts_a_lone_target():
    # the prediction hits both the target (100 / 110) and an overlapping object (110 / 120)
    places = placement([[0, 0, 10, 11], [20, 20, 30, 30]], [TARGET, TARGET], [[[0, 0, 10, 12]], []])
    assert places == ["target", "none"]


def test_iou_histogram_edges():
    counts = iou_histogram([0.0, 0.05, 0.1, 0.15, 0.5, 0.95, 0.99, 1.0])
    assert list(counts) == [
        "0",
        "(0, 0.1)",
        "[0.1, 0.2)",
        "[0.2, 0.3)",
        "[0.3, 0.4)",
        "[0.4, 0.5)",
        "[0.5, 0.6)",
        "[0.6, 0.7)",
        "[0.7, 0.8)",
        "[0.8, 0.9)",
        "[0.9, 1]",
    ]
    assert counts == {
        "0": 1,
        "(0, 0.1)": 1,
        "[0.1, 0.2)": 2,
        "[0.2, 0.3)": 0,
        "[0.3, 0.4)": 0,
        "[0.4, 0.5)": 0,
        "[0.5, 0.6)": 1,
        "[0.6, 0.7)": 0,
        "[0.7, 0.8)": 0,
        "[0.8, 0.9)": 0,
        "[0.9, 1]": 3,
    }


def test_distinct_boxes_counts_a_collapse():
    out = distinct_boxes([[1, 2, 3, 4]] * 3 + [[0, 0, 1, 1]])
    assert out["distinct"] == 2
    assert out["most_common"] == [([1.0, 2.0, 3.0, 4.0], 3), ([0.0, 0.0, 1.0, 1.0], 1)]


def test_size_summary():
    s = size_summary([[0, 0, 10, 20], [0, 0, 4, 4]], [[0, 0, 5, 5], [0, 0, 2, 8]])
    # widths 10, 4 vs 5, 2; heights 20, 4 vs 5, 8; area ratios 200 / 25 = 8 and 16 / 16 = 1
    assert s == pytest.approx(
        {
            "pred_width": 7.0,
            "pred_height": 12.0,
            "gt_width": 3.5,
            "gt_height": 6.5,
            "median_area_ratio": 4.5,
        }
    )


def test_grouped_accuracy():
    pred = [TARGET, [50, 50, 60, 60], [1, 0, 11, 10]]
    out = grouped_accuracy(pred, [TARGET] * 3, ["a", "a", "b"])
    assert out["a"] == pytest.approx({"n": 2, "acc": 0.5, "miou": 0.5})
    assert out["b"] == pytest.approx({"n": 1, "acc": 1.0, "miou": 90 / 110})


def test_centre_quadrant():
    assert centre_quadrant(TARGET, 64, 64) == "top-left"
    assert centre_quadrant([40, 0, 60, 10], 64, 64) == "top-right"
    assert centre_quadrant([0, 40, 10, 60], 64, 64) == "bottom-left"
    assert centre_quadrant([22, 22, 42, 42], 64, 64) == "bottom-right"  # centre on both midlines


def test_random_object_accuracy():
    scenes = [
        [TARGET, [30, 30, 40, 40]],  # 1 of 2 objects hits the target
        [TARGET, [1, 0, 11, 10], [30, 30, 40, 40]],  # 2 of 3 (the near-duplicate hits too)
    ]
    assert random_object_accuracy([TARGET, TARGET], scenes) == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_random_object_accuracy_rejects_an_empty_scene():
    with pytest.raises(ValueError, match="row 0"):
        random_object_accuracy([TARGET], [[]])


def test_constant_box_and_mean_box():
    gts = [TARGET, [1, 0, 11, 10], [50, 50, 60, 60], [0, 0, 10, 30]]
    # hits: 1.0, 0.82, 0 (disjoint), 100 / 300 = 0.33
    assert constant_box_accuracy(TARGET, gts) == 0.5
    assert mean_box([[0, 0, 10, 10], [2, 4, 6, 8]]) == [1.0, 2.0, 8.0, 9.0]


def test_prior_entropy_marginal_and_conditional():
    bins = np.array([[0, 0, 5, 5], [0, 1, 5, 6], [2, 1, 7, 6], [2, 1, 9, 6]])
    h = prior_entropy(bins)
    assert h["x0"] == pytest.approx(math.log(2))
    assert h["y0"] == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
    # x0 = 0 -> x1 always 5; x0 = 2 -> x1 is 7 or 9: half of the rows carry one coin flip
    assert h["x1|x0"] == pytest.approx(0.5 * math.log(2))
    assert h["y1|y0"] == pytest.approx(0.0)


def test_best_constant_box_picks_the_box_hitting_most_references():
    gts = [TARGET, [1, 0, 11, 10], [50, 50, 60, 60], [0, 0, 10, 30]]
    # TARGET hits 2 (itself, the 0.82 shift); [50, 50, 60, 60] hits 1; [0, 0, 10, 30] hits
    # itself and nothing else (100 / 300 with TARGET, 90 / 310 with the shifted box)
    candidates = [[50, 50, 60, 60], [0, 0, 10, 30], TARGET]
    box, acc = best_constant_box(candidates, gts)
    assert box == [0.0, 0.0, 10.0, 10.0] and acc == 0.5
    # touching boxes (no positive overlap) never hit
    assert best_constant_box([[10, 0, 20, 10]], [TARGET]) == ([10.0, 0.0, 20.0, 10.0], 0.0)
