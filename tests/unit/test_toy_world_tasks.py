"""The toy world's VQA / referring / entailment / pretraining files, checked against the scene
ground truth with small interpreters written here (independent of the generators)."""

import json
import pickle
import re
from collections import Counter

import pytest

from unival.data.io.image import decode_image
from unival.tokenizer import UnivalTokenizer
from unival.toy_world import Scene, ToyObject, ToyWorldConfig, build_toy_world, resolve
from unival.toy_world.referring import Expression
from unival.toy_world.scene import COLORS, SHAPES

CONFIG = ToyWorldConfig(seed=7, num_train=150, num_valid=10, num_test=20, image_size=64)
SPLITS = ("train", "valid", "test")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy_tasks")
    build_toy_world(out, CONFIG)
    return out


def _rows(path):
    return [line.split("\t") for line in path.read_text().splitlines()]


def _scenes(world, split):
    payload = json.loads((world / f"scenes_{split}.json").read_text())
    return {s["image_id"]: s["objects"] for s in payload["scenes"]}


def _centre(o):
    x0, y0, x1, y1 = o["box"]
    return (x0 + x1) / 2, (y0 + y1) / 2


def _rel(a, b):
    """Where a is relative to b by the dominant axis (image y grows downwards)."""
    (ax, ay), (bx, by) = _centre(a), _centre(b)
    if abs(bx - ax) >= abs(by - ay):
        return "left of" if bx > ax else "right of"
    return "above" if by > ay else "below"


def _select(objects, words):
    """Objects whose size/colour/shape include every word of ``words`` ("big red circle")."""
    return [o for o in objects if set(words.split()) <= {o["size"], o["color"], o["shape"]}]


def _answer(question, objects):
    if m := re.fullmatch(r"what colour is the (.+)\?", question):
        (obj,) = _select(objects, m[1])
        return obj["color"]
    if m := re.fullmatch(r"how many (\w+)s are there\?", question):
        return str(sum(o["shape"] == m[1] for o in objects))
    if m := re.fullmatch(r"how many (\w+) shapes are there\?", question):
        return str(sum(o["color"] == m[1] for o in objects))
    if m := re.fullmatch(r"is there a (\w+) (\w+)\?", question):
        return "yes" if any(o["color"] == m[1] and o["shape"] == m[2] for o in objects) else "no"
    if m := re.fullmatch(r"what is (left of|right of|above|below) the (.+)\?", question):
        (anchor,) = _select(objects, m[2])
        (obj,) = [o for o in objects if o is not anchor and _rel(o, anchor) == m[1]]
        return f"{obj['color']} {obj['shape']}"
    raise AssertionError(f"unexpected question {question!r}")


def test_vqa_rows_answer_the_scene_and_answers_are_candidates(world):
    answers = (world / "vqa_answers.txt").read_text().splitlines()
    ans2label = pickle.loads((world / "vqa_ans2label.pkl").read_bytes())
    assert ans2label == {a: i for i, a in enumerate(answers)} and len(set(answers)) == len(answers)
    ids = []
    for split in SPLITS:
        scenes = _scenes(world, split)
        for qid, image_id, question, refs, labels, image in _rows(world / f"vqa_{split}.tsv"):
            ids.append(qid)
            conf, answer = refs.split("|!+")
            assert conf == "1.0" and answer in ans2label
            assert answer == _answer(question, scenes[image_id]), question
            assert labels.split("&&") == [
                f"{o['size']} {o['color']} {o['shape']}" for o in scenes[image_id]
            ]
            assert int(qid) // 10 == int(image_id)
            assert decode_image(image).size == (64, 64)
    assert len(ids) == len(set(ids))


def test_vqa_kinds_present_and_answers_balanced(world):
    rows = _rows(world / "vqa_train.tsv")
    by_kind = Counter(" ".join(r[2].split()[:2]) for r in rows)
    assert set(by_kind) == {"what colour", "how many", "is there", "what is"}
    assert by_kind["how many"] == by_kind["is there"] == CONFIG.num_train  # always askable
    presence = Counter(r[3] for r in rows if r[2].startswith("is there"))
    assert 0.4 < presence["1.0|!+yes"] / CONFIG.num_train < 0.6
    counts = Counter(r[3].split("|!+")[1] for r in rows if r[2].startswith("how many"))
    assert max(counts[a] for a in "012") - min(counts[a] for a in "012") <= 1
    colours = Counter(r[3] for r in rows if r[2].startswith("what colour"))
    assert len(colours) == len(COLORS) and min(colours.values()) > 0.1 * sum(colours.values())


def _parse_expression(text):
    m = re.fullmatch(r"the (\w+) (left of|right of|above|below) the (.+)", text)
    if m and m[1] in SHAPES:
        return m[1], m[2], m[3]
    return text[len("the ") :], None, None


def test_refcoco_expressions_name_exactly_their_box(world):
    relational = 0
    for split in SPLITS:
        scenes = _scenes(world, split)
        for _uid, image_id, text, region, _image in _rows(world / f"refcoco_{split}.tsv"):
            objects = scenes[image_id]
            box = [int(v) for v in region.split(",")]
            assert box in [o["box"] for o in objects]
            words, rel, anchor_words = _parse_expression(text)
            matched = _select(objects, words)
            if rel is not None:
                relational += 1
                (anchor,) = _select(objects, anchor_words)
                matched = [o for o in matched if o is not anchor and _rel(o, anchor) == rel]
            assert [o["box"] for o in matched] == [box], text
    assert relational > 30  # both forms occur


def test_resolve_rejects_ambiguous_expressions():
    scene = Scene(
        0,
        64,
        [
            ToyObject("circle", "red", "big", (2, 2, 24, 24)),
            ToyObject("circle", "blue", "small", (30, 40, 43, 53)),
            ToyObject("square", "green", "small", (50, 38, 63, 51)),
        ],
    )
    assert resolve(Expression("the circle", 0, ("shape",)), scene) == [0, 1]
    assert resolve(Expression("the red circle", 0, ("color", "shape")), scene) == [0]
    # both circles are left of the square, only the blue one is below the red one
    left = Expression("the circle left of the square", 0, ("shape",), "left of", 2, ("shape",))
    assert resolve(left, scene) == [0, 1]
    below = Expression(
        "the circle below the red circle", 1, ("shape",), "below", 0, ("color", "shape")
    )
    assert resolve(below, scene) == [1]


def _entailment_label(hypothesis, objects):
    if m := re.fullmatch(r"there is a (\w+) (\w+)", hypothesis):
        found = any(o["color"] == m[1] and o["shape"] == m[2] for o in objects)
        return "entailment" if found else "contradiction"
    if m := re.fullmatch(r"there are (\w+) shapes", hypothesis):
        number = {"two": 2, "three": 3, "four": 4}[m[1]]
        return "entailment" if number == len(objects) else "contradiction"
    if m := re.fullmatch(r"the (.+) is (left of|right of|above|below) the (.+)", hypothesis):
        (a,), (b,) = _select(objects, m[1]), _select(objects, m[3])
        return "entailment" if _rel(a, b) == m[2] else "contradiction"
    if m := re.fullmatch(r"the (.+) is (made of \w+|\w+)", hypothesis):
        assert len(_select(objects, m[1])) == 1  # about a depicted object
        return "neutral"
    raise AssertionError(f"unexpected hypothesis {hypothesis!r}")


def test_snli_ve_labels_follow_the_scene_and_are_balanced(world):
    captions = {}
    for split in SPLITS:
        payload = json.loads((world / f"scenes_{split}.json").read_text())
        captions.update({s["image_id"]: s["captions"] for s in payload["scenes"]})
        scenes = _scenes(world, split)
        rows = _rows(world / f"snli_ve_{split}.tsv")
        for _uid, image_id, _image, hypothesis, premise, label in rows:
            assert label == _entailment_label(hypothesis, scenes[image_id]), hypothesis
            assert premise in captions[image_id]
        labels = Counter(r[5] for r in rows)
        assert set(labels) == {"entailment", "contradiction", "neutral"}
        assert len(set(labels.values())) == 1
        assert len({r[0] for r in rows}) == len(rows)


def test_pretrain_rows_and_negative_samples(world):
    objects = (world / "negative_sample" / "object.txt").read_text().splitlines()
    type2ans = json.loads((world / "negative_sample" / "type2ans.json").read_text())
    answers = set((world / "vqa_answers.txt").read_text().splitlines())
    assert "other" in type2ans and all(len(v) >= 2 for v in type2ans.values())
    assert set(type2ans["other"]) == answers and set(type2ans["how many"]) == {"0", "1", "2", "3"}
    train_captions = [r[2] for r in _rows(world / "caption_train.tsv")]
    all_captions = (world / "negative_sample" / "all_captions.txt").read_text().splitlines()
    assert sorted(all_captions) == sorted(train_captions)
    caption_images = {r[1]: r[4] for r in _rows(world / "caption_test.tsv")}
    for split in SPLITS:
        rows = _rows(world / f"pretrain_{split}.tsv")
        assert {len(r) for r in rows} == {8}
        assert [r[0] for r in rows] == [str(i) for i in range(len(rows))]
        types = Counter(r[7] for r in rows)
        assert set(types) == {"caption", "qa", "visual_grounding"}
        for _uid, path, caption, question, refs, gt_objects, _dataset, kind in rows:
            assert re.fullmatch(r"images/\d+\.png", path) and (world / path).is_file()
            if kind == "caption":
                assert caption and not question and not refs
                assert gt_objects and all(
                    o in objects and o in caption for o in gt_objects.split("&&")
                )
            elif kind == "qa":
                assert question.endswith("?") and not caption
                conf, answer = refs.split("|!+")
                assert conf == "1.0" and answer in answers
            else:
                assert caption.startswith("the ") and len(refs.split(",")) == 4
    # the path images are the base64 images of the other files
    for path in {r[1] for r in _rows(world / "pretrain_test.tsv")}:
        image_id = path[len("images/") : -len(".png")]
        assert list(decode_image(path, world).getdata()) == list(
            decode_image(caption_images[image_id]).getdata()
        )


def _sources(world):
    """Every text the tasks encode, built here from the original prompts (VQA, grounding,
    entailment, pretraining)."""
    texts = [
        " what does the image describe?",
        "  what does the region describe? region:",
        " yes",
        " no",
        " maybe",
    ]
    for split in SPLITS:
        for r in _rows(world / f"vqa_{split}.tsv"):
            answer = r[3].split("|!+")[1]
            texts += [
                " " + r[2],
                " " + answer,
                f' what is the answer to question " {r[2]} ". is " {answer} "?',
            ]
        for r in _rows(world / f"refcoco_{split}.tsv"):
            texts.append(f' which region does the text " {r[2]} " describe?')
        for r in _rows(world / f"snli_ve_{split}.tsv"):
            texts += [
                f' does the image describe " {r[3]} "?',
                f' can image and text1 " {r[4]} " imply text2 " {r[3]} "?',
            ]
        for r in _rows(world / f"pretrain_{split}.tsv"):
            if r[7] == "caption":
                texts += [" " + r[2], f' does the image describe " {r[2]} "?']
    for answer in ["-1", "4"] + (world / "vqa_answers.txt").read_text().splitlines():
        texts.append(
            f' what is the answer to question " how many squares are there? ". is " {answer} "?'
        )
    for obj in (world / "negative_sample" / "object.txt").read_text().splitlines():
        texts.append(f' does the image describe " a small {obj} "?')
    return texts


def test_dictionary_covers_every_task_text(world, tmp_path):
    tok = UnivalTokenizer.from_files(world / "dict.txt", num_codes=0, num_bins=16)
    for text in _sources(world):
        ids = tok.encode(text)
        assert tok.unk not in ids.tolist(), text
        assert tok.decode(ids) == text.strip()
    # a one-image world still covers another world's texts (template coverage)
    tiny = tmp_path / "tiny"
    build_toy_world(
        tiny,
        ToyWorldConfig(seed=11, num_train=1, num_valid=1, num_test=1),
        extra_texts=["a dog jumps quickly"],
    )
    tiny_tok = UnivalTokenizer.from_files(tiny / "dict.txt", num_codes=0, num_bins=16)
    for text in _sources(world):
        assert tiny_tok.unk not in tiny_tok.encode(text).tolist(), text
    assert tiny_tok.unk not in tiny_tok.encode(" a dog jumps quickly").tolist()
    assert tok.unk in tok.encode(" a dog jumps quickly").tolist()  # not in the default world


def test_baselines_match_a_recount_of_the_files(world):
    baselines = json.loads((world / "baselines.json").read_text())["test"]
    train = [r[3].split("|!+")[1] for r in _rows(world / "vqa_train.tsv")]
    test = [r[3].split("|!+")[1] for r in _rows(world / "vqa_test.tsv")]
    top = Counter(train).most_common()
    assert top[0][1] > top[1][1]  # no tie in this world: the majority is well defined
    assert baselines["vqa"]["majority_answer"] == top[0][0]
    assert baselines["vqa"]["majority_answer_accuracy"] == pytest.approx(
        test.count(top[0][0]) / len(test)
    )
    assert baselines["snli_ve"]["majority_class_accuracy"] == pytest.approx(1 / 3)
    assert 0 <= baselines["refcoco"]["mean_box_accuracy"] < 0.2


def test_every_toy_file_passes_validate_tsv(world):
    from unival.data.convert.validate import validate_files

    candidates = set((world / "vqa_answers.txt").read_text().splitlines())
    for task, prefix in (
        ("caption", "caption"),
        ("vqa_gen", "vqa"),
        ("refcoco", "refcoco"),
        ("snli_ve", "snli_ve"),
        ("unify_task", "pretrain"),
    ):
        files = [str(world / f"{prefix}_{split}.tsv") for split in SPLITS]
        assert validate_files(files, task, str(world), candidates) == 0, task
