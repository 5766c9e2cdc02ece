"""Can-fit check of ``caption``: a tiny model trained from scratch recites its 16 captions.

Sixteen images each hold two squares of different colours, one above the other; the caption
says which colour is on top ("a red square above a blue square"). The prompt is the same for
every row, so the caption can only come from the image. Decoding is the task's validation
beam search (``--eval-args`` of the recipe).
"""

import random

from canfit_helpers import (
    ENCOURAGING_LOSS,
    fit,
    generated_captions,
    two_squares,
    validate,
    write_tsv,
)

from unival.data.caption_dataset import CAPTION_PROMPT
from unival.tokenizer import build_dictionary_from_texts, load_gpt2_bpe

UPDATES = 120


def above(boxes: dict) -> str:
    top, bottom = sorted(boxes, key=lambda name: boxes[name][1])
    return f"a {top} square above a {bottom} square"


def write_caption_rows(root, images: int = 16, seed: int = 0):
    """train.tsv (uniq_id, image_id, caption, objects, image) and dict.txt under ``root``."""
    rng = random.Random(seed)
    rows = []
    for i in range(images):
        _, b64, boxes = two_squares(rng)
        rows.append([str(i), str(i), above(boxes), "", b64])
    texts = [CAPTION_PROMPT] + [" " + r[2] for r in rows]
    build_dictionary_from_texts(texts, load_gpt2_bpe(), save_path=root / "dict.txt")
    return write_tsv(root / "train.tsv", rows), rows


def test_caption_fits_sixteen_captions(tmp_path):
    train, rows = write_caption_rows(tmp_path)
    assert len({r[2] for r in rows}) >= 8
    fitted = fit(
        train,
        [
            "--task=caption",
            "--selected-cols=0,4,2",
            "--patch-image-size=32",
            "--eval-cider",
            '--eval-args={"beam":5,"max_len_b":22,"no_repeat_ngram_size":3}',
        ],
        UPDATES,
        lr=1.5e-3,
        criterion_flags=ENCOURAGING_LOSS,
    )
    pairs = generated_captions(fitted)
    exact = sum(hyp == ref for hyp, ref in pairs) / len(pairs)
    stats = validate(fitted)
    assert len(pairs) == 16
    assert exact >= 0.9, (
        f"{exact:.3f} of the captions reproduced (CIDEr "
        f"{stats['_cider_sum'] / stats['_cider_cnt']:.3f}); e.g. {pairs[:3]}"
    )
