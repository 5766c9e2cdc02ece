"""validate_tsv: every task's layout, answers/box/label formats, media; file:line reports."""

import base64
import io
import pickle

import pytest
from PIL import Image

from unival.data.convert.validate import answers_problem, parse_box


def _b64(size=(40, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(buffer, format="JPEG")
    return base64.urlsafe_b64encode(buffer.getvalue()).decode()


def _write(path, rows):
    path.write_text("".join("\t".join(r) + "\n" for r in rows))
    return str(path)


def _run(load_script, capsys, args):
    capsys.readouterr()
    status = load_script("validate_tsv").main(args)
    return status, capsys.readouterr().err


@pytest.mark.parametrize(
    "field, problem",
    [
        ("1.0|!+yes", None),
        ("0.6|!+no&&1.0|!+yes", None),
        ("0|!+maybe", None),
        ("", "empty answers"),
        ("yes", "is not 'conf|!+answer'"),
        ("x|!+yes", "is not a number"),
        ("1.5|!+yes", "outside [0, 1]"),
        ("nan|!+yes", "outside [0, 1]"),
        ("1.0|!+ ", "empty answer"),
        ("1.0|!+yes&&0.3|!+yes", "repeated"),
        ("1.0|!+a|!+b", "is not 'conf|!+answer'"),
    ],
)
def test_answers_field(field, problem):
    reason = answers_problem(field)
    assert reason is None if problem is None else problem in reason


def test_best_answer_must_be_a_candidate():
    assert answers_problem("0.3|!+zebra&&0.9|!+yes", {"yes"}) is None
    assert "best answer 'zebra'" in answers_problem("1.0|!+zebra&&0.9|!+yes", {"yes"})


@pytest.mark.parametrize(
    "field, problem",
    [
        ("1,2,3,4", None),
        ("0.5,0,10.25,7", None),
        ("1,2,3", "4 comma-separated"),
        ("1,2,x,4", "non-number"),
        ("1,2,inf,4", "not finite"),
        ("-1,2,3,4", "negative"),
        ("5,2,3,4", "inverted"),
        ("3,2,3,4", "degenerate"),
        ("1,4,3,4", "degenerate"),
    ],
)
def test_box_field(field, problem):
    if problem is None:
        assert parse_box(field) == tuple(float(v) for v in field.split(","))
    else:
        with pytest.raises(ValueError, match=problem):
            parse_box(field)


def test_vqa_rows(tmp_path, load_script, capsys):
    img = _b64()
    good = ["1", "7", "is it red?", "1.0|!+yes&&0.3|!+no", "", img]
    rows = [
        good,
        good[:3] + ["yes", "", img],
        good[:2] + ["", good[3], "", img],
        good[:5] + ["not-base64!"],
        good + ["a caption (optional column)"],
    ]
    path = _write(tmp_path / "vqa.tsv", rows)
    status, report = _run(load_script, capsys, ["--task", "vqa_gen", path])
    assert status == 1
    assert f"{path}:2 column 3 (answers): answer 'yes' is not 'conf|!+answer'" in report
    assert f"{path}:3 column 2 (question): empty" in report
    assert f"{path}:4 column 5 (image): undecodable base64" in report
    assert f"{path}:1 " not in report and f"{path}:5 " not in report
    assert (
        _run(load_script, capsys, ["--task", "vqa_gen", _write(tmp_path / "ok.tsv", [good])])[0]
        == 0
    )
    (tmp_path / "a2l.pkl").write_bytes(pickle.dumps({"no": 0}))
    status, report = _run(
        load_script,
        capsys,
        ["--task", "vqa_gen", str(tmp_path / "ok.tsv"), "--ans2label", str(tmp_path / "a2l.pkl")],
    )
    assert status == 1 and "ok.tsv:1 column 3 (answers): best answer 'yes'" in report


def test_refcoco_rows(tmp_path, load_script, capsys):
    img = _b64((40, 30))
    rows = [
        ["1", "5", "the man", "1,2,40,30", img],  # touches the border: fine
        ["2", "5", "the man", "1,2,41.5,30", img],  # 1.5 px outside the 40 px width
        ["3", "5", "the man", "4,2,4,9", img],
        ["4", "5", "", "1,2,3", img],
    ]
    path = _write(tmp_path / "ref.tsv", rows)
    status, report = _run(load_script, capsys, ["--task", "refcoco", path])
    assert status == 1
    assert f"{path}:2 column 3 (region): box '1,2,41.5,30' outside the 40x30 image" in report
    assert f"{path}:3 column 3 (region): box '4,2,4,9' is degenerate (zero area)" in report
    assert f"{path}:4 column 2 (text): empty" in report
    assert f"{path}:4 column 3 (region): box '1,2,3' does not have 4" in report
    assert f"{path}:1 " not in report
    # without media decoding the size is unknown: only the format is checked
    status, report = _run(load_script, capsys, ["--task", "refcoco", "--no-media", path])
    assert f"{path}:2 " not in report and f"{path}:3 " in report


def test_snli_ve_rows(tmp_path, load_script, capsys):
    img = _b64()
    rows = [
        ["0", "9", img, "a man", "a man outside", "entailment"],
        ["1", "9", img, "a man", "a man outside", "maybe"],
        ["2", "9", img, "a man", "a man outside", "Entailment"],
        ["3", "9", img, "a man", "a man outside"],
    ]
    path = _write(tmp_path / "snli.tsv", rows)
    status, report = _run(load_script, capsys, ["--task", "snli_ve", path])
    assert status == 1
    assert f"{path}:3 column 5 (label): unknown label 'Entailment'" in report
    assert f"{path}:4: expected 6 tab-separated columns, found 5" in report
    assert f"{path}:1 " not in report and f"{path}:2 " not in report


def test_caption_empty_reference(tmp_path, load_script, capsys):
    path = _write(tmp_path / "cap.tsv", [["1", "1", "a cat&&&&a dog", "", _b64()]])
    status, report = _run(load_script, capsys, ["--task", "caption", path])
    assert status == 1 and f"{path}:1 column 2 (caption): empty reference" in report


def test_unify_task_rows(tmp_path, load_script, capsys):
    Image.new("RGB", (40, 30)).save(tmp_path / "im.png")
    (tmp_path / "clip.mp4").write_bytes(b"not checked beyond existence")
    rows = [
        ["0", "im.png", "a cat", "", "", "cat", "coco", "caption"],
        ["1", "im.png", "", "what?", "1.0|!+cat", "", "vqa", "qa"],
        ["2", "im.png", "the cat", "", "1,1,20,20", "", "refcoco", "visual_grounding"],
        ["3", "clip.mp4", "a clip", "", "", "", "webvid", "video_caption"],
        ["4", "im.png", "", "", "", "", "coco", "caption"],
        ["5", "im.png", "", "what?", "cat", "", "vqa", "qa"],
        ["6", "im.png", "the cat", "", "1,1,20,50", "", "refcoco", "visual_grounding"],
        ["7", "gone.png", "a cat", "", "", "", "coco", "caption"],
        ["8", "im.png", "a cat", "", "", "", "coco", "detection"],
        ["9", "missing.mp4", "a clip", "", "", "", "webvid", "video_caption"],
    ]
    path = _write(tmp_path / "pretrain.tsv", rows)
    status, report = _run(
        load_script, capsys, ["--task", "unify_task", "--image-dir", str(tmp_path), path]
    )
    assert status == 1
    assert f"{path}:5 column 2 (caption): empty" in report
    assert f"{path}:6 column 4 (refs): answer 'cat' is not 'conf|!+answer'" in report
    assert f"{path}:7 column 4 (refs): box '1,1,20,50' outside the 40x30 image" in report
    assert f"{path}:8 column 1 (image): image file not found" in report
    assert f"{path}:9 column 7 (type): unknown type 'detection'" in report
    assert f"{path}:10 column 1 (image): video file not found" in report
    assert all(f"{path}:{n} " not in report for n in (1, 2, 3, 4))
