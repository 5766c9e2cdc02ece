"""CHAIR object-hallucination metrics for captions (Rohrbach et al., 2018), pure functions.

For each caption, the *mentioned* objects are the distinct canonical objects its words name
(:meth:`ObjectVocabulary.mentions`, repeats within one caption counted once); a mention is
*hallucinated* when the image's ground-truth object set lacks it. Over a set of captions:

* CHAIR-i = (hallucinated mentions) / (mentions), summed over captions;
* CHAIR-s = (captions with at least one hallucinated mention) / (captions).

Lower is better. Captions of images without ground truth are not scored (counted in
``n_missing_gt``). ``coverage`` = (distinct ground-truth objects mentioned) / (ground-truth
objects), summed over captions, tells a model that mentions nothing from one that is right;
a mention also covers the objects it implies (toy: "red circle" covers "circle").
"""

from __future__ import annotations

from typing import Dict, Hashable, List, Mapping

from unival.metrics.object_vocab import ObjectVocabulary


def caption_hallucinations(caption: str, gt_objects: set, vocabulary: ObjectVocabulary) -> dict:
    """``{"mentioned": [...], "hallucinated": [...], "correct": [...]}`` (sorted, distinct)."""
    mentioned = sorted(set(vocabulary.mentions(caption)))
    return {
        "mentioned": mentioned,
        "hallucinated": [m for m in mentioned if m not in gt_objects],
        "correct": [m for m in mentioned if m in gt_objects],
    }


def chair_scores(
    captions: Mapping[Hashable, str],
    gt_objects: Mapping[Hashable, set],
    vocabulary: ObjectVocabulary,
) -> tuple[Dict[str, float], List[dict]]:
    """(scores, per-caption records) of ``{image_id: caption}`` against ``{image_id: {objects}}``.

    scores: ``chair_i``, ``chair_s``, ``coverage``, ``n_captions``, ``n_mentions``,
    ``n_hallucinated``, ``n_missing_gt``; records: image_id, caption and
    :func:`caption_hallucinations`."""
    records: List[dict] = []
    mentions = hallucinated = bad_captions = covered = gt_total = missing = 0
    for image_id, caption in captions.items():
        if image_id not in gt_objects:
            missing += 1
            continue
        gt = set(gt_objects[image_id])
        result = caption_hallucinations(caption, gt, vocabulary)
        records.append({"image_id": image_id, "caption": caption, **result})
        mentions += len(result["mentioned"])
        hallucinated += len(result["hallucinated"])
        bad_captions += bool(result["hallucinated"])
        covered += len(vocabulary.closure(result["correct"]) & gt)
        gt_total += len(gt & set(vocabulary.objects))
    n = len(records)
    scores = {
        "chair_i": hallucinated / mentions if mentions else 0.0,
        "chair_s": bad_captions / n if n else 0.0,
        "coverage": covered / gt_total if gt_total else 0.0,
        "n_captions": n,
        "n_mentions": mentions,
        "n_hallucinated": hallucinated,
        "n_missing_gt": missing,
    }
    return scores, records
