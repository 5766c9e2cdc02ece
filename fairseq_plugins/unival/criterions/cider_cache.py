"""Read the reference code's cached CIDEr-D statistics (``coco-train-words.p`` and the like).

The file is a pickle of ``{"document_frequency": {ngram tuple: count}, "ref_len": log(#images)}``
(a ``collections.defaultdict`` of floats). It is read with
:func:`unival.safe_load.load_plain_pickle`, which only rebuilds plain containers, numbers and
strings, so a hostile file cannot run code. Its n-grams carry the reference's ``<eos>`` word;
the n-grams without it keep their counts, which is what scoring
captions without ``<eos>`` needs.
"""

from __future__ import annotations

from unival.metrics.caption import CiderDocumentFrequency
from unival.safe_load.pickle_files import load_plain_pickle


def load_cider_cached_tokens(path: str) -> CiderDocumentFrequency:
    """:class:`CiderDocumentFrequency` from a reference-format pickle; ValueError naming the
    file if malformed."""
    data = load_plain_pickle(path, "CIDEr cached tokens")
    if not isinstance(data, dict) or "document_frequency" not in data or "ref_len" not in data:
        raise ValueError(f"{path}: expected a dict with 'document_frequency' and 'ref_len'")
    frequencies = data["document_frequency"].items()
    df = {tuple(str(w) for w in gram): float(count) for gram, count in frequencies}
    return CiderDocumentFrequency(df=df, log_num_images=float(data["ref_len"]))
