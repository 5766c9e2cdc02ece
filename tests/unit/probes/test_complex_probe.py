"""Complex-instruction probe: ground truth on a hand-made scene, per-category scoring."""

import json

import pytest

from unival.probes.complex_items import grounding_items, vqa_items
from unival.probes.complex_suite import build_probe_suite
from unival.probes.scoring import score_probe
from unival.toy_world.scene import Scene, ToyObject


def hand_scene():
    # centres: small red circle (11, 39), big red circle (48.5, 16.5), small blue square (49, 53)
    return Scene(
        0,
        64,
        [
            ToyObject("circle", "red", "small", (2, 30, 20, 48)),
            ToyObject("circle", "red", "big", (34, 2, 63, 31)),
            ToyObject("square", "blue", "small", (40, 44, 58, 62)),
        ],
    )


def test_grounding_ground_truth_by_hand():
    items = {(i.category, i.text): i.target for i in grounding_items(hand_scene())}
    assert items == {
        ("similar_attribute", "the small red circle"): 0,
        ("similar_attribute", "the big red circle"): 1,
        # to the square: circle 0 is left of it (dx 38, dy 14), circle 1 above it (dx 0.5, dy 36.5)
        ("similar_relation", "the red circle left of the square"): 0,
        ("similar_relation", "the red circle above the square"): 1,
        # from the big circle: square 36.5 px, small circle 43.7 px (margin 6.4 px); the other
        # references have runners-up within the margin (40.5 vs 43.7, 36.5 vs 40.5)
        ("nearest_object", "the shape nearest to the big circle"): 2,
        ("farthest_object", "the shape farthest from the big circle"): 0,
        # corners: TL 40.5 / 51.2 / 72.2, TR 65.8 / 22.6 / 55.1, BL 27.3 / 67.9 / 50.2,
        # BR 58.6 / 50.0 / 18.6; the centre is a tie (22.1 vs 22.6): not asked
        ("corner", "the shape nearest to the top left corner"): 0,
        ("corner", "the shape nearest to the top right corner"): 1,
        ("corner", "the shape nearest to the bottom left corner"): 0,
        ("corner", "the shape nearest to the bottom right corner"): 2,
    }


def test_vqa_ground_truth_by_hand():
    items = {(i.category, i.text): i.answer for i in vqa_items(hand_scene())}
    expected = {
        ("count", "how many shapes are there?"): "3",
        ("count", "how many circles are there?"): "2",
        ("count", "how many squares are there?"): "1",
        ("count", "how many triangles are there?"): "0",
        ("count", "how many red shapes are there?"): "2",
        ("count", "how many blue shapes are there?"): "1",
        ("compare_count", "are there more circles than squares?"): "yes",
        ("compare_count", "are there more triangles than circles?"): "no",
        ("compare_count", "are there more squares than triangles?"): "yes",
        ("similar_relation", "what size is the red circle left of the square?"): "small",
        ("similar_relation", "what size is the red circle above the square?"): "big",
        ("nearest_object", "what colour is the shape nearest to the big circle?"): "blue",
        ("farthest_object", "what colour is the shape farthest from the big circle?"): "red",
        ("corner", "what colour is the shape nearest to the top left corner?"): "red",
        ("corner", "what colour is the shape nearest to the top right corner?"): "red",
        ("corner", "what colour is the shape nearest to the bottom left corner?"): "red",
        ("corner", "what colour is the shape nearest to the bottom right corner?"): "blue",
    }
    assert items == expected


def test_twins_without_a_clear_relation_are_not_asked():
    # two identical red circles side by side, a square straight below the gap: both circles are
    # diagonal to it, so no relation names one of them
    scene = Scene(
        1,
        64,
        [
            ToyObject("circle", "red", "small", (2, 2, 20, 20)),
            ToyObject("circle", "red", "small", (40, 2, 58, 20)),
            ToyObject("square", "blue", "small", (21, 40, 39, 58)),
        ],
    )
    categories = {i.category for i in grounding_items(scene)}
    assert "similar_relation" not in categories and "similar_attribute" not in categories


def test_per_category_scoring_on_hand_made_predictions():
    grounding = {
        "1": {"category": "A", "box": [0, 0, 10, 10]},
        "2": {"category": "A", "box": [0, 0, 10, 10]},
        "3": {"category": "B", "box": [20, 20, 40, 40]},
        "4": {"category": "B", "box": [0, 0, 5, 5]},
    }
    records = [
        {"uniq_id": "1", "box": [0, 0, 10, 10]},  # IoU 1: hit
        {"uniq_id": "2", "box": [5, 5, 15, 15]},  # IoU 25 / 175: miss
        {"uniq_id": "3", "box": [20, 20, 40, 32]},
    ]  # IoU 240 / 400 = 0.6: hit
    scores = score_probe(records, grounding)
    assert scores["A"] == {"acc@0.5": 0.5, "n": 2} and scores["B"] == {"acc@0.5": 1.0, "n": 1}
    assert scores["all"]["acc@0.5"] == pytest.approx(2 / 3) and scores["all"]["n_missing"] == 1
    vqa = {"7": {"category": "count", "answer": "2"}, "8": {"category": "corner", "answer": "blue"}}
    scores = score_probe(
        [{"question_id": 7, "answer": "Two"}, {"question_id": 8, "answer": "red"}], vqa
    )
    assert scores["count"]["accuracy"] == 1.0 and scores["corner"]["accuracy"] == 0.0
    with pytest.raises(ValueError, match="prediction 9 is not in"):
        score_probe([{"question_id": 9, "answer": "x"}], vqa)


def test_build_probe_suite_files_agree(tmp_path):
    summary = build_probe_suite(tmp_path, scenes=[hand_scene()])
    refcoco = [r.split("\t") for r in (tmp_path / "probe_refcoco.tsv").read_text().splitlines()]
    vqa = [r.split("\t") for r in (tmp_path / "probe_vqa.tsv").read_text().splitlines()]
    side = json.loads((tmp_path / "probe_refcoco.categories.json").read_text())
    assert len(refcoco) == sum(summary["grounding"].values()) == 10 and len(vqa) == 17
    for uid, image_id, text, box, _ in refcoco:
        assert (
            image_id == "0"
            and side[uid]["text"] == text
            and box == ",".join(map(str, side[uid]["box"]))
        )
    answers = (tmp_path / "probe_answers.txt").read_text().split()
    assert all(row[3].split("|!+")[1] in answers for row in vqa)


def test_a_toy_world_dictionary_covers_every_probe_text(tmp_path):
    """The probe asks words the toy tasks never use ("nearest", "corner", "more ... than"):
    a toy world's dict.txt must still encode every probe question and expression without <unk>."""
    from unival.probes.complex_suite import probe_records, sample_probe_scenes
    from unival.tokenizer import UnivalTokenizer
    from unival.toy_world.build import ToyWorldConfig, build_toy_world
    from unival.toy_world.prompts import refcoco_source, vqa_source

    build_toy_world(tmp_path, ToyWorldConfig(seed=3, num_train=1, num_valid=1, num_test=1))
    tok = UnivalTokenizer.from_files(tmp_path / "dict.txt", num_codes=0, num_bins=16)
    records = probe_records(sample_probe_scenes(60, seed=1))
    texts = [refcoco_source(r["text"]) for r in records["grounding"]]
    texts += [vqa_source(r["text"]) for r in records["vqa"]] + [
        " " + r["answer"] for r in records["vqa"]
    ]
    assert {r["category"] for r in records["vqa"]} >= {
        "count",
        "compare_count",
        "corner",
        "similar_relation",
    }
    for text in set(texts):
        ids = tok.encode(text)
        assert tok.unk not in ids.tolist(), text
        assert tok.decode(ids) == text.strip()
