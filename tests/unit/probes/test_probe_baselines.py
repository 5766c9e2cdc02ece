"""Chance levels of the complex-instruction probe, on hand-made side files."""

import pytest

from unival.probes.baselines import (
    constant_answer_baseline,
    constant_box_baseline,
    random_object_baseline,
    random_object_colour_baseline,
    scene_boxes_of,
    scene_colours_of,
)

VQA = {
    "100": {"category": "count", "answer": "2"},
    "101": {"category": "count", "answer": "2"},
    "102": {"category": "count", "answer": "3"},
    "103": {"category": "corner", "answer": "red"},
    "104": {"category": "corner", "answer": "blue"},
}


def test_constant_answer_is_the_most_frequent_per_category():
    scores = constant_answer_baseline(VQA)
    assert scores["count"] == {"accuracy": pytest.approx(2 / 3), "n": 3, "answer": "2"}
    # a tie between "blue" and "red": the alphabetical first, right once in two
    assert scores["corner"] == {"accuracy": 0.5, "n": 2, "answer": "blue"}
    assert scores["all"] == {"accuracy": pytest.approx(3 / 5), "n": 5}


# scene 1: three disjoint boxes; scene 2: two boxes, the second overlapping the target heavily
SCENES = {
    "scenes": [
        {
            "image_id": "1",
            "objects": [
                {"box": [0, 0, 10, 10]},
                {"box": [20, 20, 30, 30]},
                {"box": [40, 0, 50, 10]},
            ],
        },
        {"image_id": "2", "objects": [{"box": [0, 0, 10, 10]}, {"box": [0, 0, 10, 11]}]},
    ]
}
GROUNDING = {
    "100": {"category": "corner", "box": [0, 0, 10, 10]},
    "101": {"category": "nearest_object", "box": [20, 20, 30, 30]},
    "200": {"category": "corner", "box": [0, 0, 10, 10]},
}


def test_random_object_counts_every_box_that_would_be_a_hit():
    scores = random_object_baseline(GROUNDING, scene_boxes_of(SCENES))
    # scene 1: 1 of 3 boxes hits; scene 2: both boxes hit (IoU 1 and 100/110)
    assert scores["corner"]["acc@0.5"] == pytest.approx((1 / 3 + 2 / 2) / 2)
    assert scores["nearest_object"] == {"acc@0.5": pytest.approx(1 / 3), "n": 1}
    assert scores["all"]["acc@0.5"] == pytest.approx((1 / 3 + 1 + 1 / 3) / 3)
    with pytest.raises(ValueError, match="item 300: image 3 is not in the scenes"):
        random_object_baseline(
            {"300": {"category": "corner", "box": [0, 0, 1, 1]}}, scene_boxes_of(SCENES)
        )


def test_constant_box_scores_one_box_against_every_item():
    scores = constant_box_baseline(
        GROUNDING, [0, 0, 12, 10]
    )  # IoU 100/120 with [0,0,10,10], 0 with the other
    assert scores["corner"] == {"acc@0.5": 1.0, "n": 2}
    assert scores["nearest_object"] == {"acc@0.5": 0.0, "n": 1}
    assert scores["all"]["acc@0.5"] == pytest.approx(2 / 3)


def test_random_object_colour_only_for_colour_categories():
    scenes = {
        "scenes": [
            {"image_id": "1", "objects": [{"color": "red"}, {"color": "red"}, {"color": "blue"}]}
        ]
    }
    scores = random_object_colour_baseline(VQA, scene_colours_of(scenes))
    # corner: "red" is 2 of 3 shapes, "blue" 1 of 3; count answers are not colours: no entry
    assert set(scores) == {"corner"}
    assert scores["corner"] == {"accuracy": pytest.approx((2 / 3 + 1 / 3) / 2), "n": 2}
