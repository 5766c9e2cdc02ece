"""The model-side texts each task builds from toy-world rows (caption, VQA, grounding,
entailment and pretraining prompts), so ``dict.txt`` can be built to cover every one of them.

These mirror the prompts of the task datasets; they are used here only for vocabulary
coverage (a BPE piece missing from ``dict.txt`` would become ``<unk>``).
"""

from __future__ import annotations

from typing import Iterable

from unival.data.caption_dataset import CAPTION_PROMPT

GROUNDED_CAPTION_PROMPT = "  what does the region describe? region:"
SNLI_ANSWERS = ("yes", "no", "maybe")
FIXED_PROMPTS = (CAPTION_PROMPT, GROUNDED_CAPTION_PROMPT, " what does the video describe?")


def vqa_source(question: str) -> str:
    return " " + (question if question.endswith("?") else question + "?")


def refcoco_source(text: str) -> str:
    return f' which region does the text " {text} " describe?'


def snli_source(hypothesis: str) -> str:
    return f' does the image describe " {hypothesis} "?'


def snli_source_with_premise(premise: str, hypothesis: str) -> str:
    return f' can image and text1 " {premise} " imply text2 " {hypothesis} "?'


def itm_caption_source(caption: str) -> str:
    return f' does the image describe " {caption} "?'


def itm_qa_source(question: str, answer: str) -> str:
    return f' what is the answer to question " {question} ". is " {answer} "?'


def answer_target(answer: str) -> str:
    return " " + answer


def coverage_texts(texts: Iterable[str], words: Iterable[str]) -> list[str]:
    """Texts whose BPE pieces cover every source/target the tasks build from ``texts``
    (questions, answers, captions, expressions, hypotheses) and from ``words`` (what may
    fill a slot at run time, e.g. a pretraining negative answer), without duplicates.

    The GPT-2 pre-tokenizer splits at word boundaries, so a text inside a prompt yields the
    same pieces as the text alone; each prompt is therefore included once, with one slot
    filling, plus every text and word on its own."""
    example = "a red circle"
    covered = (
        list(FIXED_PROMPTS)
        + [answer_target(a) for a in SNLI_ANSWERS]
        + [
            vqa_source("is there a red circle"),
            refcoco_source(example),
            snli_source(example),
            snli_source_with_premise(example, example),
            itm_caption_source(example),
            itm_qa_source("is there a red circle?", "yes"),
        ]
    )
    covered += [answer_target(t) for t in texts] + [answer_target(w) for w in words]
    return list(dict.fromkeys(covered))
