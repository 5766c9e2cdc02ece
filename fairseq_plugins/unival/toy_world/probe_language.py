"""The words of the complex-instruction probe (:mod:`unival.probes.complex_items`) over toy
scenes: the landmarks, the candidate answers, and one text per item template, so that every
toy world's dictionary covers every probe question and expression."""

from __future__ import annotations

from typing import List, Tuple

from unival.toy_world.captions import RELATIONS
from unival.toy_world.scene import COLORS, SHAPES, SIZES


def landmarks(image_size: int) -> List[Tuple[str, Tuple[float, float]]]:
    s = float(image_size)
    return [
        ("the top left corner", (0.0, 0.0)),
        ("the top right corner", (s, 0.0)),
        ("the bottom left corner", (0.0, s)),
        ("the bottom right corner", (s, s)),
        ("the centre", (s / 2, s / 2)),
    ]


def probe_answers() -> List[str]:
    """Every answer a VQA probe item can have (the candidate list)."""
    return list(COLORS) + list(SIZES) + [str(n) for n in range(5)] + ["yes", "no"]


def template_texts() -> List[str]:
    """One text per item template, with every word that can fill a slot (shapes, plurals,
    colours, sizes, relations, landmarks, answers): a dictionary built from these covers
    every probe question and expression (the GPT-2 pre-tokenizer splits at word boundaries)."""
    texts = ["how many shapes are there?"]
    texts += [f"how many {s}s are there?" for s in SHAPES]
    texts += [f"how many {c} shapes are there?" for c in COLORS]
    texts += [f"are there more {a}s than {b}s?" for a in SHAPES for b in SHAPES if a != b]
    texts += [
        f"what size is the {c} {s} {rel} the {z} {c} {s}?"
        for c in COLORS
        for s in SHAPES
        for z in SIZES
        for rel in RELATIONS
    ]
    for word in ("nearest to", "farthest from"):
        texts += [
            f"what colour is the shape {word} the {z} {c} {s}?"
            for z in SIZES
            for c in COLORS
            for s in SHAPES
        ]
    texts += [f"what colour is the shape nearest to {name}?" for name, _ in landmarks(64)]
    texts += [f"the shape nearest to {name}" for name, _ in landmarks(64)]
    return texts + probe_answers()
