"""CIDEr-D and BLEU-4 recomputed from what ``unival eval`` wrote: its ``predictions.json`` and
the "&&" references of the test TSV, scored by pycocoevalcap directly (lowercased, whitespace
tokens), so a wrong id match, reference column or tokenisation in the evaluation shows."""

import json
from pathlib import Path

import pytest


def recomputed_scores(
    predictions_json: Path, tsv: Path, id_column: int, caption_column: int
) -> dict:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider

    refs = {}
    for line in Path(tsv).read_text().splitlines():
        fields = line.split("\t")
        refs[int(fields[id_column])] = [
            " ".join(r.lower().split()) for r in fields[caption_column].split("&&")
        ]
    predictions = json.loads(Path(predictions_json).read_text())
    res = {int(p["image_id"]): [" ".join(p["caption"].lower().split())] for p in predictions}
    gts = {key: refs[key] for key in res}
    cider, _ = Cider(n=4, sigma=6.0).compute_score(gts, res)
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    return {"cider": float(cider), "bleu4": float(bleu[3]), "n": len(res)}


def assert_scores_match(
    scores: dict,
    predictions_json: Path,
    tsv: Path,
    id_column: int,
    caption_column: int,
    keys=("cider", "bleu4"),
) -> None:
    expected = recomputed_scores(predictions_json, tsv, id_column, caption_column)
    assert scores["n"] == expected["n"]
    for key in keys:
        assert scores[key] == pytest.approx(expected[key], abs=1e-6), (key, scores, expected)
