"""Text normalisation of the OFA data pipeline (``pre_caption``, ``pre_question``)."""

from __future__ import annotations

import re
import string

_LEADING_PUNCTUATION = ",.!?*#:;~"
_WHITESPACE = re.compile(r"\s+")
_NO_PUNCTUATION = str.maketrans("", "", string.punctuation)


def _normalise(text: str, max_words: int | None, person_rule: bool) -> str:
    text = text.lower().lstrip(_LEADING_PUNCTUATION).replace("-", " ").replace("/", " ")
    if person_rule:
        text = text.replace("<person>", "person")
    text = _WHITESPACE.sub(" ", text).strip()
    return truncate_words(text, max_words)


def truncate_words(text: str, max_words: int | None) -> str:
    """The first ``max_words`` space-separated words (all when ``None``)."""
    if max_words is None:
        return text
    return " ".join(text.split(" ")[:max_words]) if text else text


def pre_caption(text: str, max_words: int | None = None) -> str:
    """Lowercase; strip leading ``,.!?*#:;~``; ``-`` and ``/`` -> space; ``<person>`` ->
    ``person``; collapse whitespace; strip; keep ``max_words`` words."""
    return _normalise(text, max_words, person_rule=True)


def pre_question(text: str, max_words: int | None = None) -> str:
    """:func:`pre_caption` without the ``<person>`` rule."""
    return _normalise(text, max_words, person_rule=False)


def strip_punctuation(text: str) -> str:
    """Remove every ``string.punctuation`` character (the caption targets' rule)."""
    return text.translate(_NO_PUNCTUATION)


def caption_words(text: str, max_words: int | None = None) -> str:
    """Punctuation-stripped, whitespace-tokenised caption, truncated to ``max_words``."""
    words = strip_punctuation(text).split()
    if max_words is not None:
        words = words[:max_words]
    return " ".join(words)
