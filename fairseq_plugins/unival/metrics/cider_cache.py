"""Read the reference code's cached CIDEr-D statistics (``coco-train-words.p`` and the like).

The file is a pickle of ``{"document_frequency": {ngram tuple: count}, "ref_len": log(#images)}``
(a ``collections.defaultdict`` of floats). It is read with an unpickler that only rebuilds plain
containers, numbers and strings, so a hostile file cannot run code. Its n-grams carry the
reference's ``<eos>`` word; the n-grams without it keep their counts, which is what scoring
captions without ``<eos>`` needs.
"""
from __future__ import annotations

import pickle

from unival.metrics.caption import CiderDocumentFrequency

_ALLOWED = {("collections", "defaultdict"), ("builtins", "float"), ("__builtin__", "float"),
            ("builtins", "int"), ("__builtin__", "int"), ("builtins", "dict"), ("builtins", "tuple")}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIDEr cache")


def load_cider_cached_tokens(path: str) -> CiderDocumentFrequency:
    """:class:`CiderDocumentFrequency` from a reference-format pickle; ValueError naming the
    file if malformed."""
    with open(path, "rb") as handle:
        try:
            data = _PlainUnpickler(handle, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, AttributeError, TypeError) as error:
            raise ValueError(f"{path}: not a CIDEr cached-tokens pickle ({error})") from error
    if not isinstance(data, dict) or "document_frequency" not in data or "ref_len" not in data:
        raise ValueError(f"{path}: expected a dict with 'document_frequency' and 'ref_len'")
    df = {tuple(str(w) for w in gram): float(count) for gram, count in data["document_frequency"].items()}
    return CiderDocumentFrequency(df=df, log_num_images=float(data["ref_len"]))
