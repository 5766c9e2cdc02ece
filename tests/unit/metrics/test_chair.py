"""CHAIR: object vocabularies (synonyms, plurals, multi-word names) and hand-counted scores."""

import json

import pytest

from unival.metrics.chair import chair_scores
from unival.metrics.object_vocab import coco_vocabulary, plural
from unival.probes.ground_truth import load_ground_truth, toy_object_names, toy_vocabulary
from unival.toy_world.scene import ToyObject


@pytest.mark.parametrize(
    "word, expected",
    [
        ("dog", "dogs"),
        ("bus", "buses"),
        ("puppy", "puppies"),
        ("knife", "knives"),
        ("sheep", "sheep"),
        ("hot dog", "hot dogs"),
        ("man", "men"),
        ("toy", "toys"),
        ("couch", "couches"),
    ],
)
def test_plural(word, expected):
    assert plural(word) == expected


def test_coco_vocabulary_has_the_80_categories():
    vocab = coco_vocabulary()
    assert len(vocab.objects) == 80
    assert {"hot dog", "teddy bear", "dining table", "hair drier", "sports ball"} <= set(
        vocab.objects
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Two hot dogs and a dog.", ["hot dog", "dog"]),
        ("teddy bears beside a polar bear", ["teddy bear", "bear"]),
        ("People riding bikes", ["person", "bicycle"]),
        ("knives, forks and mice", ["knife", "fork", "mouse"]),
        ("a baseball bat and a bat", ["baseball bat", "baseball bat"]),
        ("a man on a sofa watching television", ["person", "couch", "tv"]),
        ("a blurry photo of something", []),
    ],
)
def test_coco_mentions_longest_match_first(text, expected):
    assert coco_vocabulary().mentions(text) == expected


def test_chair_agrees_with_a_hand_count():
    gt = {1: {"dog", "person"}, 2: {"teddy bear", "bed"}, 3: {"cat"}, 4: {"car"}}
    captions = {
        1: "a man walking two dogs past a hot dog stand",  # person, dog, hot dog(x)
        2: "a teddy bear lying on a bed",  # teddy bear, bed
        3: "a kitten on a sofa next to a laptop",  # cat, couch(x), laptop(x)
        4: "a blurry photo",  # nothing
        5: "a dog",
    }  # no ground truth: not scored
    scores, records = chair_scores(captions, gt, coco_vocabulary())
    # mentions 3 + 2 + 3 + 0 = 8, hallucinated 1 + 0 + 2 = 3, captions with one: 2 of 4
    assert scores["n_mentions"] == 8 and scores["n_hallucinated"] == 3
    assert scores["chair_i"] == pytest.approx(3 / 8)
    assert scores["chair_s"] == pytest.approx(2 / 4)
    assert scores["coverage"] == pytest.approx(5 / 6)  # 2 + 2 + 1 of 2 + 2 + 1 + 1
    assert scores["n_captions"] == 4 and scores["n_missing_gt"] == 1
    assert records[2]["hallucinated"] == ["couch", "laptop"]


def test_toy_vocabulary_colour_shape_and_bare_shape():
    objects = [
        ToyObject("circle", "red", "big", (0, 0, 10, 10)),
        ToyObject("square", "blue", "small", (20, 0, 30, 10)),
    ]
    gt = {0: toy_object_names(objects)}
    assert gt[0] == {"red circle", "circle", "blue square", "square"}
    captions = {0: "a small red circle left of a big green square and two circles"}
    scores, records = chair_scores(captions, gt, toy_vocabulary())
    assert records[0]["mentioned"] == ["circle", "green square", "red circle"]
    assert records[0]["hallucinated"] == ["green square"]
    assert scores["chair_i"] == pytest.approx(1 / 3) and scores["chair_s"] == 1.0
    assert scores["coverage"] == pytest.approx(2 / 4)  # red circle (+ circle) of 4 names


def test_ground_truth_from_coco_instances(tmp_path):
    payload = {
        "images": [{"id": 7, "file_name": "a.jpg"}, {"id": 8, "file_name": "b.jpg"}],
        "categories": [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}],
        "annotations": [
            {"image_id": 7, "category_id": 18},
            {"image_id": 7, "category_id": 1},
            {"image_id": 7, "category_id": 18},
        ],
    }
    (tmp_path / "inst.json").write_text(json.dumps(payload))
    gt = load_ground_truth(tmp_path / "inst.json")
    assert (
        gt.kind == "coco"
        and gt.objects == {7: {"dog", "person"}, 8: set()}
        and gt.files[8] == "b.jpg"
    )
    payload["annotations"].append({"image_id": 9, "category_id": 1})
    (tmp_path / "bad.json").write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="annotation 3 names image 9"):
        load_ground_truth(tmp_path / "bad.json")


def test_toy_reference_captions_hallucinate_nothing(tmp_path):
    from unival.toy_world.build import generate_scenes
    from unival.toy_world.captions import scene_captions
    from unival.toy_world.writers import write_scenes_json

    scenes = generate_scenes("test", 12, 0, 64)
    write_scenes_json(
        tmp_path / "s.json", "test", 0, 64, scenes, [scene_captions(s) for s in scenes]
    )
    gt = load_ground_truth(tmp_path / "s.json")
    for k in range(3):  # every phrasing mentions exactly the scene's objects
        captions = {s.scene_id: scene_captions(s)[k] for s in scenes}
        scores, _ = chair_scores(captions, gt.objects, gt.vocabulary)
        assert scores["chair_i"] == 0.0 and scores["coverage"] == 1.0
        assert scores["n_mentions"] >= len(scenes) * 2
