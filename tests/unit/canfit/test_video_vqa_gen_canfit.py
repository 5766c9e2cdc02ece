"""Can-fit check of ``video_vqa_gen``: a tiny model trained from scratch answers the questions
of four toy-world clips (4 frames of 32 px).

The toy world asks every clip the same questions ("what color is the moving shape?", "which
direction does ... move?", ...) with answers that differ between clips, so the answers come
from the frames. Scoring is the task's validation: trie-constrained beam search after the
question prefix, as the recipe's ``--val-inference-type beamsearch``.
"""

from canfit_helpers import ENCOURAGING_LOSS, fit, toy_media_world, validate

UPDATES = 120


def test_video_vqa_gen_fits_the_questions_of_four_clips(tmp_path):
    toy_media_world(tmp_path, clips=4)
    train = tmp_path / "video_qa_train.tsv"
    rows = [line.split("\t") for line in train.read_text().splitlines()]
    answers = {}
    for row in rows:
        answers.setdefault(row[2], set()).add(row[3])
    assert answers["what color is the moving shape?"] and len(rows) >= 16
    assert sum(len(a) > 1 for a in answers.values()) >= 3  # same question, other answers
    fitted = fit(
        train,
        [
            "--task=video_vqa_gen",
            "--selected-cols=0,5,2,3,4",
            f"--image-dir={tmp_path}",
            f"--ans2label-file={tmp_path / 'video_qa_answers.txt'}",
            "--prompt-type=prev_output",
            "--num-frames=4",
            "--patch-frame-size=32",
            "--patch-image-size=32",
            "--sample-type=rand",
            "--val-inference-type=beamsearch",
            '--eval-args={"beam":5,"unnormalized":true,"temperature":1.0,"stop_on_max_len":true}',
        ],
        UPDATES,
        lr=1.5e-3,
        criterion_flags=ENCOURAGING_LOSS,
    )
    stats = validate(fitted)
    accuracy = stats["_vqa_score_sum"] / stats["_vqa_cnt"]
    assert stats["_vqa_cnt"] == len(rows)
    assert accuracy >= 0.9, f"video QA accuracy {accuracy:.3f}; losses {fitted.losses[::12]}"
