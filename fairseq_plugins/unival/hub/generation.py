"""Per-task generation settings of the released evaluation scripts.

One table for the Python API, ``unival predict`` and ``unival eval`` (whose flags override
it). Keys are fairseq generation options (``--beam`` -> ``beam``); an option the table leaves
out takes fairseq's ``build_generator`` default (:data:`FAIRSEQ_GENERATION_DEFAULTS`).
"""

import argparse
from argparse import Namespace
from typing import Any, Dict, Mapping

_LONG_TEXT = {"beam": 5, "unnormalized": True, "temperature": 1.0, "max_len_a": 0, "max_len_b": 200}

GENERATION_DEFAULTS: Dict[str, Dict[str, Any]] = {
    # eval_caption.sh: beam 5, max_len_b 22, no_repeat_ngram 3, unnormalized
    "caption": {
        "beam": 5,
        "max_len_a": 0,
        "max_len_b": 22,
        "no_repeat_ngram_size": 3,
        "unnormalized": True,
    },
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

#: what fairseq's ``FairseqTask.build_generator`` uses for an option ``args`` lacks
FAIRSEQ_GENERATION_DEFAULTS: Dict[str, Any] = {
    "beam": 5,
    "max_len_a": 0,
    "max_len_b": 200,
    "min_len": 1,
    "no_repeat_ngram_size": 0,
    "lenpen": 1,
    "unnormalized": False,
    "temperature": 1.0,
}

#: the options fairseq's ``FairseqTask.build_generator`` reads (anything else is a typo)
GENERATION_OPTIONS = frozenset(
    {
        "beam",
        "max_len_a",
        "max_len_b",
        "min_len",
        "no_repeat_ngram_size",
        "lenpen",
        "unkpen",
        "unnormalized",
        "temperature",
        "match_source_len",
        "sampling",
        "sampling_topk",
        "sampling_topp",
        "diverse_beam_groups",
        "diverse_beam_strength",
        "diversity_rate",
        "print_alignment",
        "constraints",
    }
)


def generation_settings(task_name: str, overrides: Mapping[str, Any] = ()) -> Dict[str, Any]:
    """The released settings for ``task_name`` updated with ``overrides`` (checked names)."""
    overrides = dict(overrides)
    unknown = sorted(set(overrides) - GENERATION_OPTIONS)
    if unknown:
        raise ValueError(
            f"unknown generation options {unknown}; known: {sorted(GENERATION_OPTIONS)}"
        )
    settings = dict(GENERATION_DEFAULTS.get(task_name, {}))
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return settings


def effective_settings(task_name: str, overrides: Mapping[str, Any] = ()) -> Dict[str, Any]:
    """:func:`generation_settings` with fairseq's defaults filled in: every value the
    generator uses."""
    return {**FAIRSEQ_GENERATION_DEFAULTS, **generation_settings(task_name, overrides)}


def generation_namespace(settings: Mapping[str, Any]) -> Namespace:
    """The ``args`` that ``task.build_generator(models, args)`` expects."""
    return Namespace(**dict(settings))


# the generation flags of ``unival eval`` and ``unival predict`` (argparse dests)
GENERATION_FLAGS = (
    "beam",
    "max_len_a",
    "max_len_b",
    "min_len",
    "no_repeat_ngram_size",
    "lenpen",
    "unnormalized",
    "temperature",
)


def add_generation_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The generation flags; one not given keeps the task's value of ``GENERATION_DEFAULTS``.
    Returns their argument group (a command may add its own generation options to it)."""
    gen = parser.add_argument_group(
        "generation",
        "a flag not given takes the checkpoint task's value in unival.hub.generation."
        "GENERATION_DEFAULTS, else fairseq's default (beam 5, max_len_b 200, min_len 1, ...)",
    )
    gen.add_argument("--beam", type=int)
    gen.add_argument("--max-len-a", type=float)
    gen.add_argument("--max-len-b", type=int)
    gen.add_argument("--min-len", type=int)
    gen.add_argument("--no-repeat-ngram-size", type=int)
    gen.add_argument("--lenpen", type=float)
    gen.add_argument(
        "--unnormalized",
        action=argparse.BooleanOptionalAction,
        help="compare hypotheses by unnormalised score (--no-unnormalized: normalised)",
    )
    gen.add_argument("--temperature", type=float)
    return gen


def given_generation_flags(args: argparse.Namespace) -> Dict[str, Any]:
    """The generation flags given on the command line (the others are ``None``)."""
    return {
        name: getattr(args, name) for name in GENERATION_FLAGS if getattr(args, name) is not None
    }
