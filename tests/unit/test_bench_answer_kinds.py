"""benchmarks/answer_kinds.py: toy-world kinds, and the per-kind counts of hand-made predictions."""

import json

import pytest
from helpers import load_benchmark


@pytest.fixture(scope="module")
def kinds():
    return load_benchmark("answer_kinds")


def test_questions_and_hypotheses_get_the_toy_worlds_kinds(kinds):
    assert kinds.vqa_kind("is there a red circle?", "no") == "presence, absent"
    assert kinds.vqa_kind("is there a red circle?", "yes") == "presence, present"
    assert kinds.vqa_kind("how many red shapes are there?", "1") == "count"
    assert kinds.vqa_kind("what colour is the small square?", "blue") == "colour"
    assert kinds.vqa_kind("what is left of the circle?", "red square") == "position"
    assert kinds.hypothesis_kind("there is a blue circle") == "exists"
    assert kinds.hypothesis_kind("there are three shapes") == "count"
    assert kinds.hypothesis_kind("the blue circle is below the triangle") == "relation"
    assert kinds.hypothesis_kind("the circle is left of the big square") == "relation"
    assert kinds.hypothesis_kind("the red circle is made of wood") == "property"


def test_a_text_only_expert_shows_as_one_answer_per_kind(kinds, tmp_path):
    rows = [  # uniq_id, image_id, image, hypothesis, premise, label
        ("1", "0", "-", "there is a blue circle", "p", "entailment"),
        ("2", "0", "-", "there is a red square", "p", "contradiction"),
        ("3", "1", "-", "there is a green circle", "p", "contradiction"),
        ("4", "1", "-", "the circle is heavy", "p", "neutral"),
    ]
    tsv = tmp_path / "snli_ve_test.tsv"
    tsv.write_text("".join("\t".join(r) + "\n" for r in rows))
    always_yes = [{"uniq_id": r[0], "answer": "maybe" if r[0] == "4" else "yes"} for r in rows]
    predictions = tmp_path / "predictions.json"
    predictions.write_text(json.dumps(always_yes))
    assert kinds.snli_kinds(predictions, tsv) == {
        "exists, contradiction": [0, 2],
        "exists, entailment": [1, 1],
        "property, neutral": [1, 1],
    }
    predictions.write_text(json.dumps(always_yes[:3]))
    with pytest.raises(SystemExit, match="no prediction for row 4"):
        kinds.snli_kinds(predictions, tsv)
