"""Per-task generation settings of the released evaluation scripts (spec §3.10).

One table for the Python API and ``unival predict``; ``unival eval`` takes the same values
on its command line. Keys are fairseq generation options (``--beam`` -> ``beam``).
"""
from argparse import Namespace
from typing import Any, Dict, Mapping

_LONG_TEXT = {"beam": 5, "unnormalized": True, "temperature": 1.0, "max_len_a": 0, "max_len_b": 200}

GENERATION_DEFAULTS: Dict[str, Dict[str, Any]] = {
    # eval_caption.sh: beam 5, max_len_b 22, no_repeat_ngram 3, unnormalized
    "caption": {"beam": 5, "max_len_a": 0, "max_len_b": 22, "no_repeat_ngram_size": 3, "unnormalized": True},
    # beam search with the question forced as prefix and trie-masked answers
    "vqa_gen": {"beam": 5, "unnormalized": True, "temperature": 1.0},
    # exactly four bin tokens; the test script adds no_repeat_ngram 3
    "refcoco": {"beam": 5, "min_len": 4, "max_len_a": 0, "max_len_b": 4, "no_repeat_ngram_size": 3},
    # all-candidate scoring: no beam search
    "snli_ve": {},
    "video_caption": dict(_LONG_TEXT),
    "audio_caption": dict(_LONG_TEXT),
    "video_vqa_gen": {"beam": 5, "unnormalized": True, "temperature": 1.0},
}

#: the options fairseq's ``FairseqTask.build_generator`` reads (anything else is a typo)
GENERATION_OPTIONS = frozenset({
    "beam", "max_len_a", "max_len_b", "min_len", "no_repeat_ngram_size", "lenpen", "unkpen",
    "unnormalized", "temperature", "match_source_len", "sampling", "sampling_topk",
    "sampling_topp", "diverse_beam_groups", "diverse_beam_strength", "diversity_rate",
    "print_alignment", "constraints",
})


def generation_settings(task_name: str, overrides: Mapping[str, Any] = ()) -> Dict[str, Any]:
    """The spec's settings for ``task_name`` updated with ``overrides`` (checked names)."""
    overrides = dict(overrides)
    unknown = sorted(set(overrides) - GENERATION_OPTIONS)
    if unknown:
        raise ValueError(f"unknown generation options {unknown}; known: {sorted(GENERATION_OPTIONS)}")
    settings = dict(GENERATION_DEFAULTS.get(task_name, {}))
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return settings


def generation_namespace(settings: Mapping[str, Any]) -> Namespace:
    """The ``args`` that ``task.build_generator(models, args)`` expects."""
    return Namespace(**dict(settings))
