"""SNLI-VE samples.

Fields (after ``--selected-cols 0,2,3,4,5``): ``uniq_id``, ``image``, ``hypothesis``,
``premise`` (the caption), ``label``.

* labels: contradiction -> "no", entailment -> "yes", neutral -> "maybe" (already mapped
  labels are accepted as they are);
* source = [BOS] BPE(' does the image describe " {pre_caption(hypothesis)} "?') [EOS], or
  with ``add_caption`` ' can image and text1 " {premise} " imply text2 " {hypothesis} "?';
* decoder prompt, target, constraint mask as VQA (:mod:`unival.data.vqa_dataset`), without
  ``conf``; ``ref_dict`` = {label: 1.0}.
"""

from __future__ import annotations

from functools import partial

from unival.data.text import pre_caption
from unival.data.tsv import TSVRow
from unival.data.vqa_dataset import PromptedAnswerDataset

LABEL_TO_ANSWER = {"contradiction": "no", "entailment": "yes", "neutral": "maybe"}
SNLI_VE_ANSWERS = ("no", "yes", "maybe")  # the candidate dict {"no": 0, "yes": 1, "maybe": 2}


def label_answer(label: str) -> str:
    """An SNLI-VE label (or its answer word) -> "no" / "yes" / "maybe"; ValueError otherwise."""
    label = label.strip()
    if label in LABEL_TO_ANSWER:
        return LABEL_TO_ANSWER[label]
    if label in SNLI_VE_ANSWERS:
        return label
    raise ValueError(f"unknown SNLI-VE label {label!r} (expected one of {sorted(LABEL_TO_ANSWER)})")


def snli_ve_prompt(hypothesis: str, premise: str | None = None) -> str:
    """The encoder prompt (hypothesis and premise already normalised)."""
    if premise is None:
        return f' does the image describe " {hypothesis} "?'
    return f' can image and text1 " {premise} " imply text2 " {hypothesis} "?'


class SnliVeDataset(PromptedAnswerDataset):
    """Visual entailment over a TSV whose selected fields are
    (uniq_id, image, hypothesis, premise, label)."""

    FIELDS = ("uniq_id", "image", "hypothesis", "premise", "label")

    def __init__(self, *args, add_caption: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_caption = add_caption

    def process_row(self, index: int, row: TSVRow) -> dict:
        normalise = partial(pre_caption, max_words=self.max_src_length)
        uniq_id = self.decode_field(row, 0, self.FIELDS[0], str.strip)
        patch_image = self.decode_field(row, 1, self.FIELDS[1], self._image)
        hypothesis = self.decode_field(row, 2, self.FIELDS[2], normalise)
        premise = self.decode_field(row, 3, self.FIELDS[3], normalise) if self.add_caption else None
        answer = self.decode_field(row, 4, self.FIELDS[4], label_answer)
        prompt = snli_ve_prompt(hypothesis, premise)
        return self.answer_sample(
            index, row, uniq_id, patch_image, prompt, answer, 4, {answer: 1.0}
        )
