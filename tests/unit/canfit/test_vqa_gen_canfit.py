"""Can-fit check of ``vqa_gen``: a tiny model trained from scratch answers its 16 training rows.

Eight images each hold two squares of different colours; each image is asked "what color is
the top square?" (the answer is a colour) and "is there a {colour} square?" (yes / no, half of
each). Every question text recurs with different answers, so only a model that reads the image
can answer. Scoring is the task's validation: beam search with the question forced as the
decoder prefix and the answer steps restricted to the candidate trie (the recipe's
``--val-inference-type beamsearch``).
"""

import random

from canfit_helpers import COLOURS, fit, two_squares, validate, write_tsv

from unival.tokenizer import build_dictionary_from_texts, load_gpt2_bpe

UPDATES = 120
CANDIDATES = [*COLOURS, "yes", "no"]


def top_square(boxes: dict) -> str:
    return min(boxes, key=lambda name: boxes[name][1])


def write_vqa_rows(root, images: int = 8, seed: int = 0):
    """train.tsv (question_id, image_id, question, answers, objects, image), dict.txt and the
    candidate answers under ``root``."""
    rng = random.Random(seed)
    rows = []
    for i in range(images):
        colours, b64, boxes = two_squares(rng)
        asked = colours[0] if i % 2 else rng.choice([c for c in COLOURS if c not in colours])
        answer = "yes" if asked in colours else "no"
        rows.append([str(2 * i), str(i), "what color is the top square?",
                     f"1.0|!+{top_square(boxes)}", "", b64])  # fmt: skip
        rows.append([str(2 * i + 1), str(i), f"is there a {asked} square?",
                     f"1.0|!+{answer}", "", b64])  # fmt: skip
    texts = [" what color is the top square?"]
    texts += [f" is there a {c} square?" for c in COLOURS] + [" " + a for a in CANDIDATES]
    build_dictionary_from_texts(texts, load_gpt2_bpe(), save_path=root / "dict.txt")
    (root / "answers.txt").write_text("\n".join(CANDIDATES) + "\n")
    return write_tsv(root / "train.tsv", rows), rows


def test_vqa_gen_fits_sixteen_questions(tmp_path):
    train, rows = write_vqa_rows(tmp_path)
    by_question = {}
    for row in rows:
        by_question.setdefault(row[2], set()).add(row[3])
    assert all(len(answers) > 1 for q, answers in by_question.items() if "top" in q)
    fitted = fit(
        train,
        [
            "--task=vqa_gen",
            "--selected-cols=0,5,2,3,4",
            "--patch-image-size=32",
            f"--ans2label-file={tmp_path / 'answers.txt'}",
            "--prompt-type=prev_output",
            "--val-inference-type=beamsearch",
            '--eval-args={"beam":5,"unnormalized":true,"temperature":1.0,"stop_on_max_len":true}',
        ],
        UPDATES,
    )
    stats = validate(fitted)
    accuracy = stats["_vqa_score_sum"] / stats["_vqa_cnt"]
    assert stats["_vqa_cnt"] == 16
    assert accuracy >= 0.9, f"VQA accuracy {accuracy:.3f}; losses {fitted.losses[::12]}"
