"""Pure metric functions over plain Python data (no fairseq state)."""

from unival.metrics.caption import (  # noqa: F401
    CiderDocumentFrequency,
    add_bleu_stats,
    bleu4,
    bleu4_from_stats,
    bleu_stats,
    cider,
    cider_sentence,
    empty_bleu_stats,
    simple_tokenize,
    strip_punctuation,
)
from unival.metrics.vqa import (  # noqa: F401
    confidence_score,
    mean_confidence_score,
    normalize_vqa_answer,
    vqa_soft_accuracy,
)
