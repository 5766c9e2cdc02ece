"""make_vqa_tsv: VQA soft scores, answer normalisation, candidates, rows and the pickle."""

import json
import pickle

import pytest
from converter_helpers import b64_bytes, read_rows

from unival.data.convert.vqa import answer_confidences, normalize_answer, soft_score


@pytest.mark.parametrize(
    "count, expected", [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (10, 1.0)]
)
def test_soft_score_of_ten_annotators(count, expected):
    # by hand: c of 10 gave the answer; leave each annotator out and take min(1, matches/3):
    # c=2 -> (2 * 1/3 + 8 * 2/3) / 10 = 0.6; c=3 -> (3 * 2/3 + 7 * 1) / 10 = 0.9
    assert soft_score(count) == pytest.approx(expected)


def test_soft_score_of_three_annotators():
    # c=1 of 3: the giver leaves -> 0, each of the 2 others leaves -> 1/3: (0 + 2/3) / 3
    assert soft_score(1, 3) == pytest.approx(2 / 9)
    with pytest.raises(ValueError):
        soft_score(4, 3)


@pytest.mark.parametrize(
    "raw, normal",
    [
        ("Yes", "yes"),
        ("yes.", "yes"),
        ("Two", "2"),
        ("the dog", "dog"),
        ("a red bus!", "red bus"),
        ("dont", "don't"),
        ("1,000", "1000"),
        ("3.5", "3.5"),
        ("t-shirt", "t shirt"),
        ("left / right", "left right"),
        ("  A  man ", "man"),
    ],
)
def test_answers_are_normalised_like_the_vqa_evaluation(raw, normal):
    assert normalize_answer(raw) == normal


def test_answer_confidences_merge_normalised_duplicates():
    answers = ["yes"] * 6 + ["Yes."] * 2 + ["no", "two"]
    assert answer_confidences(answers) == {"yes": 1.0, "no": 0.3, "2": 0.3}


def _write_vqa(tmp_path, make_jpeg):
    image_dir = tmp_path / "val2014"
    raw = {
        i: make_jpeg(image_dir / f"COCO_val2014_{i:012d}.jpg", colour=(i, 10, 10)) for i in (42, 7)
    }
    questions = {
        "data_subtype": "val2014",
        "questions": [
            {"question_id": 420, "image_id": 42, "question": "Is the\tbus red?"},
            {"question_id": 421, "image_id": 42, "question": "How many dogs?"},
            {"question_id": 70, "image_id": 7, "question": "What is it?"},
            {"question_id": 71, "image_id": 99, "question": "Missing image?"},
        ],
    }
    annotations = {
        "annotations": [
            {
                "question_id": 420,
                "multiple_choice_answer": "yes",
                "answers": [
                    {"answer": a, "answer_id": k + 1}
                    for k, a in enumerate(["yes"] * 7 + ["no"] * 2 + ["Yes"])
                ],
            },
            {
                "question_id": 421,
                "multiple_choice_answer": "2",
                "answers": [
                    {"answer": a} for a in ["2", "two", "2", "3", "3", "3", "2", "4", "1", "2"]
                ],
            },
            {
                "question_id": 70,
                "multiple_choice_answer": "zebra",
                "answers": [{"answer": "zebra"}] * 10,
            },
            {
                "question_id": 71,
                "multiple_choice_answer": "yes",
                "answers": [{"answer": "yes"}] * 10,
            },
        ]
    }
    (tmp_path / "q.json").write_text(json.dumps(questions))
    (tmp_path / "a.json").write_text(json.dumps(annotations))
    return image_dir, raw


def test_script_writes_rows_and_ans2label(tmp_path, make_jpeg, load_script, repo_root):
    image_dir, raw = _write_vqa(tmp_path, make_jpeg)
    (tmp_path / "cands.txt").write_text("yes\nno\n2\n3\n")
    script = load_script("make_vqa_tsv")
    out = tmp_path / "vqa_val.tsv"
    assert (
        script.main(
            [
                "--questions",
                str(tmp_path / "q.json"),
                "--annotations",
                str(tmp_path / "a.json"),
                "--image-dir",
                str(image_dir),
                "--out",
                str(out),
                "--candidates",
                str(tmp_path / "cands.txt"),
                "--out-ans2label",
                str(tmp_path / "ans2label.pkl"),
            ]
        )
        == 0
    )
    rows = read_rows(out)
    # 70 has no candidate answer (zebra) and 71 no image: both skipped
    assert [r[:5] for r in rows] == [
        ["420", "42", "Is the bus red?", "1.0|!+yes&&0.6|!+no", ""],
        # "2" x4 + "two" -> 5 -> 1.0; "3" x3 -> 0.9; "4" and "1" are not candidates
        ["421", "42", "How many dogs?", "1.0|!+2&&0.9|!+3", ""],
    ]
    assert b64_bytes(rows[0][5]) == raw[42]  # the file's bytes, not re-encoded
    assert pickle.loads((tmp_path / "ans2label.pkl").read_bytes()) == {
        "yes": 0,
        "no": 1,
        "2": 2,
        "3": 3,
    }
    validate = load_script("validate_tsv")
    assert (
        validate.main(
            ["--task", "vqa_gen", str(out), "--ans2label", str(tmp_path / "ans2label.pkl")]
        )
        == 0
    )


def test_candidates_from_answer_counts_and_out_of_vocabulary(tmp_path, make_jpeg, load_script):
    image_dir, _ = _write_vqa(tmp_path, make_jpeg)
    script = load_script("make_vqa_tsv")
    out = tmp_path / "vqa.tsv"
    assert (
        script.main(
            [
                "--questions",
                str(tmp_path / "q.json"),
                "--annotations",
                str(tmp_path / "a.json"),
                "--image-dir",
                str(image_dir),
                "--out",
                str(out),
                "--min-answer-count",
                "1",
                "--out-ans2label",
                str(tmp_path / "a2l.pkl"),
                "--keep-out-of-vocabulary",
                "--image-paths",
            ]
        )
        == 0
    )
    # multiple_choice_answer counts: yes 2, 2 1, zebra 1 -> most frequent first, ties A-Z
    assert pickle.loads((tmp_path / "a2l.pkl").read_bytes()) == {"yes": 0, "2": 1, "zebra": 2}
    rows = read_rows(out)
    assert [r[0] for r in rows] == ["420", "421", "70"]
    assert rows[1][3] == "1.0|!+2&&0.9|!+3&&0.3|!+1&&0.3|!+4"  # all answers kept
    assert rows[2][3] == "1.0|!+zebra" and rows[2][5] == "COCO_val2014_000000000007.jpg"
