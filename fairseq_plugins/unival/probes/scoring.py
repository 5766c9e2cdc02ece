"""Per-category scores of the complex-instruction probe from ``unival eval`` predictions.

* grounding records (``{"uniq_id", "box"}``, refcoco's predictions.json): a hit is IoU >= 0.5
  with positive intersection (:func:`unival.metrics.grounding.grounding_hits`) against the
  side file's box; score ``acc@0.5``;
* VQA records (``{"question_id", "answer"}``): exact match after the VQA answer
  normalisation; score ``accuracy``.

Returns ``{"all": {...}, "<category>": {...}}``, each with its score and ``n``. Every record
must be in the side file (a foreign id is an error); side-file items without a prediction are
counted in ``all.n_missing`` and not scored.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Dict, List, Mapping, Sequence

from unival.metrics.grounding import grounding_hits
from unival.metrics.vqa import normalize_vqa_answer
from unival.probes.ground_truth import read_json


def _record_id(record: Mapping) -> str:
    for key in ("uniq_id", "question_id"):
        if key in record:
            return str(record[key])
    raise ValueError(f"a prediction record needs 'uniq_id' or 'question_id': {dict(record)}")


def probe_kind(categories: Mapping[str, Mapping]) -> str:
    """ "grounding" (side file with boxes) or "vqa" (with answers)."""
    first = next(iter(categories.values()), {})
    return "grounding" if "box" in first else "vqa"


def score_probe(records: Sequence[Mapping], categories: Mapping[str, Mapping]) -> Dict[str, dict]:
    """Per-category scores of ``records`` against the builder's side file ``categories``."""
    kind = probe_kind(categories)
    name = "acc@0.5" if kind == "grounding" else "accuracy"
    hits: Dict[str, List[bool]] = defaultdict(list)
    seen = set()
    for record in records:
        key = _record_id(record)
        if key not in categories:
            raise ValueError(f"prediction {key} is not in the probe's categories file")
        seen.add(key)
        item = categories[key]
        if kind == "grounding":
            hit = bool(grounding_hits([record["box"]], [item["box"]], 0.5)[0])
        else:
            hit = normalize_vqa_answer(str(record["answer"])) == normalize_vqa_answer(
                item["answer"]
            )
        hits[item["category"]].append(hit)
        hits["all"].append(hit)
    out = {c: {name: sum(v) / len(v), "n": len(v)} for c, v in sorted(hits.items())}
    out.setdefault("all", {name: 0.0, "n": 0})["n_missing"] = len(set(categories) - seen)
    return out


def categories_path_for(tsv: str | os.PathLike) -> str:
    """``probe_vqa.tsv`` -> ``probe_vqa.categories.json`` (the builder's side file)."""
    base = os.fspath(tsv)
    return (base[:-4] if base.endswith(".tsv") else base) + ".categories.json"


def score_probe_files(
    predictions_json: str | os.PathLike, categories_json: str | os.PathLike
) -> Dict[str, dict]:
    """:func:`score_probe` of a ``predictions.json`` against a ``*.categories.json``."""

    return score_probe(read_json(predictions_json), read_json(categories_json))


def format_probe_table(scores: Mapping[str, Mapping]) -> str:
    """One line per category: name, score, n."""
    lines = []
    for category, values in scores.items():
        metric = next(k for k in values if k not in ("n", "n_missing"))
        lines.append(f"  {category:<18} {metric} {values[metric]:.4f}  n={values['n']}")
    return "\n".join(lines)
