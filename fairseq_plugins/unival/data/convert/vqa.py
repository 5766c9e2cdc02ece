"""VQAv2 question/annotation JSONs -> ``vqa_gen`` TSV rows.

* answers are normalised as the VQA evaluation does (:func:`normalize_answer`: punctuation,
  number words -> digits, articles dropped, common apostrophe-less contractions restored);
* each distinct answer of the (10) annotators gets the VQA soft score
  (:func:`soft_score`: min(1, matches / 3) averaged over the leave-one-annotator-out subsets,
  i.e. 1 -> 0.3, 2 -> 0.6, 3 -> 0.9, >= 4 -> 1.0 for 10 annotators);
* the answers field is "conf|!+answer" joined by "&&", highest confidence first;
* with a candidate list, answers outside it are dropped and a question left without any is
  skipped (training needs its best answer in the trie), unless ``keep_out_of_vocabulary``.

Columns: question_id, image_id, question, answers, object labels (empty), image.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
from collections import Counter
from typing import Iterable, Iterator, Sequence

from unival.data.convert.common import (
    ConversionReport,
    image_field,
    load_json,
    sanitize_text,
    write_tsv,
)
from unival.safe_load.pickle_files import load_plain_pickle

logger = logging.getLogger(__name__)

DEFAULT_IMAGE_TEMPLATE = "COCO_{subtype}_{image_id:012d}.jpg"
_PUNCTUATION = ';/[]"{}()=+\\_-><@`,?!'
_DIGIT_COMMA_DIGIT = re.compile(r"(\d)(,)(\d)")
_PERIOD_NOT_IN_NUMBER = re.compile(r"(?<!\d)\.(?!\d)")
_NUMBER_WORDS = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
_ARTICLES = {"a", "an", "the"}
_CONTRACTIONS = {
    "aint": "ain't",
    "arent": "aren't",
    "cant": "can't",
    "couldnt": "couldn't",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "dont": "don't",
    "hadnt": "hadn't",
    "hasnt": "hasn't",
    "havent": "haven't",
    "hes": "he's",
    "im": "i'm",
    "isnt": "isn't",
    "itll": "it'll",
    "ive": "i've",
    "shouldnt": "shouldn't",
    "thats": "that's",
    "theres": "there's",
    "theyre": "they're",
    "wasnt": "wasn't",
    "werent": "weren't",
    "whats": "what's",
    "wont": "won't",
    "wouldnt": "wouldn't",
    "youre": "you're",
}


def normalize_answer(answer: str) -> str:
    """The VQA evaluation's answer normalisation (see the module docstring).

    Punctuation next to a space, or anywhere in a text with a digit-comma-digit, is deleted;
    elsewhere it becomes a space; periods outside numbers are deleted; then, word by word,
    number words become digits and articles are dropped; finally commas are removed."""
    text = sanitize_text(answer).lower()
    delete = _DIGIT_COMMA_DIGIT.search(text) is not None
    for mark in _PUNCTUATION:
        if delete or f"{mark} " in text or f" {mark}" in text:
            text = text.replace(mark, "")
        else:
            text = text.replace(mark, " ")
    text = _PERIOD_NOT_IN_NUMBER.sub("", text)
    words = []
    for word in text.split():
        word = _NUMBER_WORDS.get(word, word)
        if word not in _ARTICLES:
            words.append(_CONTRACTIONS.get(word, word))
    return " ".join(words).replace(",", "")


def soft_score(count: int, num_annotators: int = 10) -> float:
    """VQA accuracy of an answer given by ``count`` of ``num_annotators`` annotators: the mean
    over leaving each annotator out of min(1, matches among the others / 3)."""
    if not 0 <= count <= num_annotators or num_annotators < 1:
        raise ValueError(f"count {count} of {num_annotators} annotators")
    given = count * min(1.0, (count - 1) / 3) if count else 0.0
    not_given = (num_annotators - count) * min(1.0, count / 3)
    return (given + not_given) / num_annotators


def answer_confidences(answers: Sequence[str]) -> dict[str, float]:
    """Annotator answers (raw) -> {normalised answer: soft score}, rounded to 4 decimals."""
    normalised = [normalize_answer(a) for a in answers]
    counts = Counter(a for a in normalised if a)
    return {a: round(soft_score(c, len(answers)), 4) for a, c in counts.items()}


def format_answers(confidences: dict[str, float]) -> str:
    """``{"no": 0.6, "yes": 1.0}`` -> ``"1.0|!+yes&&0.6|!+no"`` (highest first, then A-Z)."""
    ordered = sorted(confidences.items(), key=lambda item: (-item[1], item[0]))
    return "&&".join(f"{conf}|!+{answer}" for answer, conf in ordered)


def frequent_answers(annotation_files: Iterable[dict], min_count: int = 9) -> list[str]:
    """Candidate answers: normalised ``multiple_choice_answer`` values seen at least
    ``min_count`` times over the given annotation JSONs; most frequent first, ties A-Z."""
    counts: Counter = Counter()
    for payload in annotation_files:
        counts.update(normalize_answer(a["multiple_choice_answer"]) for a in payload["annotations"])
    kept = [a for a, c in counts.items() if c >= min_count and a]
    return sorted(kept, key=lambda a: (-counts[a], a))


def load_candidates(path: str | os.PathLike) -> list[str]:
    """A candidate list: a pickled dict answer -> label (its keys by label) or a text file
    with one answer per line."""
    path = os.fspath(path)
    if path.endswith((".pkl", ".pickle")):
        ans2label = load_plain_pickle(path, "an answer -> label dict")
        if not isinstance(ans2label, dict):
            raise ValueError(f"{path}: expected a pickled dict answer -> label")
        return sorted(ans2label, key=ans2label.get)
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def write_ans2label(path: str | os.PathLike, answers: Sequence[str]) -> None:
    """``trainval_ans2label.pkl``: {answer: index} in list order."""
    if len(set(answers)) != len(answers):
        raise ValueError("candidate answers repeat")
    with open(path, "wb") as f:
        pickle.dump({a: i for i, a in enumerate(answers)}, f, protocol=4)


def vqa_rows(
    questions: dict,
    annotations: dict,
    image_dir: str | os.PathLike,
    candidates: Sequence[str] | None = None,
    keep_out_of_vocabulary: bool = False,
    image_template: str = DEFAULT_IMAGE_TEMPLATE,
    image_paths: bool = False,
    report: ConversionReport | None = None,
) -> Iterator[list[str]]:
    """Rows of one VQAv2 split (``questions``/``annotations`` are the loaded JSONs).

    ``image_template`` is formatted with ``subtype`` (the questions' ``data_subtype``, e.g.
    "train2014") and ``image_id``; ``image_paths`` writes that relative path instead of
    base64."""
    report = report if report is not None else ConversionReport()
    by_question = {a["question_id"]: a for a in annotations["annotations"]}
    allowed = set(candidates) if candidates is not None else None
    subtype = questions.get("data_subtype", "")
    for q in questions["questions"]:
        qid = q["question_id"]
        annotation = by_question.get(qid)
        if annotation is None:
            report.skip("question without annotation", str(qid))
            continue
        confidences = answer_confidences([a["answer"] for a in annotation["answers"]])
        if allowed is not None and not keep_out_of_vocabulary:
            confidences = {a: c for a, c in confidences.items() if a in allowed}
        if not confidences:
            report.skip("no candidate answer", str(qid))
            continue
        name = image_template.format(subtype=subtype, image_id=int(q["image_id"]))
        try:
            image = image_field(os.path.join(image_dir, name), name if image_paths else None)
        except ValueError as error:
            report.skip("bad image", f"{qid}: {error}")
            continue
        yield [
            str(qid),
            str(q["image_id"]),
            sanitize_text(q["question"]),
            format_answers(confidences),
            "",
            image,
        ]


def convert(
    question_json: str,
    annotation_json: str,
    image_dir: str,
    out_tsv: str,
    candidates: Sequence[str] | None = None,
    **kwargs,
) -> ConversionReport:
    """Load the two JSONs and write ``out_tsv``; returns the report."""
    report = ConversionReport()
    rows = vqa_rows(
        load_json(question_json),
        load_json(annotation_json),
        image_dir,
        candidates,
        report=report,
        **kwargs,
    )
    report.written[out_tsv] = write_tsv(out_tsv, rows)
    return report
