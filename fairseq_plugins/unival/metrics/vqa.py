"""VQA metrics as pure functions.

* :func:`confidence_score` is what the research code reports in validation and in its
  evaluation: the confidence that the TSV gives the predicted answer (its precomputed VQA
  soft accuracy), 0 when the answer is not among the references. The same
  function with ``{label: 1.0}`` gives SNLI-VE accuracy.
* :func:`vqa_soft_accuracy` is the standard VQA accuracy from the raw annotator answers
  (usually 10): for each leave-one-out subset of the annotators, min(#matches / 3, 1),
  averaged over the subsets, after the evaluation's answer normalisation
  (:func:`normalize_vqa_answer`: punctuation, number words, articles, contractions).
"""

from __future__ import annotations

import itertools
import re
from typing import Dict, Iterable, Mapping, Optional, Sequence

# punctuation the VQA evaluation deletes (or turns into a space, see _strip_punctuation)
_PUNCTUATION = (
    ";",
    "/",
    "[",
    "]",
    '"',
    "{",
    "}",
    "(",
    ")",
    "=",
    "+",
    "\\",
    "_",
    "-",
    ">",
    "<",
    "@",
    "`",
    ",",
    "?",
    "!",
)
_COMMA_IN_NUMBER = re.compile(r"(\d)(,)(\d)")
_PERIOD_NOT_BEFORE_DIGIT = re.compile(r"\.(?!\d)")
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

# English contractions, written with their apostrophes; every spelling that drops one or more
# of the apostrophes maps back to the full form ("dont" -> "don't", "couldntve" -> "couldn't've").
_CONTRACTIONS = (
    "ain't",
    "aren't",
    "can't",
    "could've",
    "couldn't",
    "couldn't've",
    "didn't",
    "doesn't",
    "don't",
    "hadn't",
    "hadn't've",
    "hasn't",
    "haven't",
    "he'd",
    "he'd've",
    "he's",
    "how'd",
    "how'll",
    "how's",
    "i'd've",
    "i'm",
    "i've",
    "isn't",
    "it'd",
    "it'd've",
    "it'll",
    "let's",
    "ma'am",
    "mightn't",
    "mightn't've",
    "might've",
    "mustn't",
    "must've",
    "needn't",
    "not've",
    "o'clock",
    "oughtn't",
    "'ow's'at",
    "shan't",
    "she'd",
    "she'd've",
    "she'll",
    "she's",
    "should've",
    "shouldn't",
    "shouldn't've",
    "somebody'd",
    "somebody'd've",
    "somebody'll",
    "somebody's",
    "someone'd",
    "someone'd've",
    "someone'll",
    "someone's",
    "something'd",
    "something'd've",
    "something'll",
    "that's",
    "there'd",
    "there'd've",
    "there're",
    "there's",
    "they'd",
    "they'd've",
    "they'll",
    "they're",
    "they've",
    "'twas",
    "wasn't",
    "we'd",
    "we'd've",
    "we're",
    "we've",
    "weren't",
    "what'll",
    "what're",
    "what's",
    "what've",
    "when's",
    "where'd",
    "where's",
    "where've",
    "who'd",
    "who'd've",
    "who'll",
    "who're",
    "who's",
    "who've",
    "why'll",
    "why're",
    "why's",
    "won't",
    "would've",
    "wouldn't",
    "wouldn't've",
    "y'all",
    "y'all'll",
    "y'all'd've",
    "you'd",
    "you'd've",
    "you'll",
    "you're",
    "you've",
)
# spellings that are ordinary words once the apostrophe is gone are left alone
_AMBIGUOUS = {"id", "its", "ill", "well", "were", "hell", "shell", "wed", "cant", "wont", "lets"}


def _contraction_spellings() -> Dict[str, str]:
    table: Dict[str, str] = {}
    for full in _CONTRACTIONS:
        positions = [i for i, ch in enumerate(full) if ch == "'"]
        for count in range(1, len(positions) + 1):
            for dropped in itertools.combinations(positions, count):
                spelling = "".join(ch for i, ch in enumerate(full) if i not in dropped)
                if spelling not in _AMBIGUOUS:
                    table.setdefault(spelling, full)
    table.update({"cant": "can't", "wont": "won't"})  # never ordinary answers in VQA
    return table


CONTRACTIONS = _contraction_spellings()


def _strip_punctuation(text: str) -> str:
    """Delete punctuation next to a space (or anywhere when the text has a digit-comma-digit
    group); otherwise replace it by a space. Periods not followed by a digit are deleted."""
    out = text
    delete = _COMMA_IN_NUMBER.search(text) is not None
    for p in _PUNCTUATION:
        if delete or (p + " " in text) or (" " + p in text):
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD_NOT_BEFORE_DIGIT.sub("", out)


def _digits_articles_contractions(text: str) -> str:
    words = []
    for word in text.lower().split():
        word = _NUMBER_WORDS.get(word, word)
        if word not in _ARTICLES:
            words.append(CONTRACTIONS.get(word, word))
    return " ".join(words)


def normalize_vqa_answer(answer: str) -> str:
    """The VQA evaluation's answer normalisation: newlines/tabs -> spaces, strip, punctuation,
    lowercase, number words -> digits, articles dropped, contractions restored.

    >>> normalize_vqa_answer("Two dogs!")
    '2 dogs'
    """
    text = answer.replace("\n", " ").replace("\t", " ").strip()
    return _digits_articles_contractions(_strip_punctuation(text))


def vqa_soft_accuracy(
    prediction: str, gt_answers: Sequence[str], official_quirks: bool = False
) -> float:
    """Standard VQA accuracy of one prediction against the annotators' raw answers.

    mean over i of min(1, #{j != i : gt_j == prediction} / 3), with prediction and answers
    normalised by :func:`normalize_vqa_answer`. With ``official_quirks`` the official script's
    behaviour is reproduced instead: the annotators' answers are normalised only when they
    disagree (so unanimous answers are compared verbatim).
    """
    if not gt_answers:
        raise ValueError("no ground-truth answers")
    pred = normalize_vqa_answer(prediction)
    gts = [a.replace("\n", " ").replace("\t", " ").strip() for a in gt_answers]
    if not official_quirks or len(set(gts)) > 1:
        gts = [normalize_vqa_answer(a) for a in gts]
    total = 0.0
    for i in range(len(gts)):
        matches = sum(1 for j, gt in enumerate(gts) if j != i and gt == pred)
        total += min(1.0, matches / 3.0)
    return total / len(gts)


def confidence_score(prediction: str, reference_confidences: Mapping[str, float]) -> float:
    """The reference confidence of ``prediction`` (0 when it is not a reference answer)."""
    return float(reference_confidences.get(prediction, 0.0))


def mean_confidence_score(
    predictions: Iterable[str], references: Iterable[Mapping[str, float]]
) -> float:
    """Average :func:`confidence_score` (the research code's ``vqa_score`` / ``snli_score``)."""
    scores = [confidence_score(p, r) for p, r in zip(predictions, references, strict=True)]
    return sum(scores) / len(scores) if scores else 0.0


def mean_vqa_soft_accuracy(
    predictions: Iterable[str], gt_answers: Iterable[Sequence[str]], official_quirks: bool = False
) -> Optional[float]:
    """Average :func:`vqa_soft_accuracy`; None for no predictions."""
    scores = [
        vqa_soft_accuracy(p, g, official_quirks)
        for p, g in zip(predictions, gt_answers, strict=True)
    ]
    return sum(scores) / len(scores) if scores else None
