"""Caption generation over a data iterator and its CIDEr-D / BLEU-4 scores."""

import logging
from typing import Dict, List

import torch

from unival.metrics.caption import bleu4, cider, strip_punctuation
from unival.probes.ground_truth import json_id

logger = logging.getLogger("unival.evaluate")


def generate_captions(task, models, generator, itr, use_cuda: bool, fp16: bool):
    """Run the generator over ``itr``; return predictions, references (by image id) and
    skipped count."""
    from fairseq import utils

    predictions: Dict[object, str] = {}
    references: Dict[object, List[str]] = {}
    nskipped = 0
    for sample in itr:
        nskipped += int(sample.get("nskipped", 0)) if sample else 0
        if not sample or "net_input" not in sample:
            continue
        if use_cuda:
            sample = utils.move_to_cuda(sample)
            if fp16:
                sample = utils.apply_to_sample(
                    lambda t: t.half() if t.dtype is torch.float32 else t, sample
                )
        hyps = task.generate_texts(generator, models, sample)
        ids = sample.get("uniq_ids") or [str(i) for i in sample["id"].tolist()]
        refs = sample.get("references") or [[] for _ in ids]
        for image_id, hyp, ref in zip(ids, hyps, refs):
            key = json_id(image_id)
            if key not in predictions:  # the first prediction per image is kept
                predictions[key] = strip_punctuation(hyp)
                references[key] = list(ref)
    return predictions, references, nskipped


def caption_scores(
    predictions: Dict[object, str], references: Dict[object, List[str]], tokenizer: str
) -> Dict[str, float]:
    scored = {k: v for k, v in predictions.items() if references.get(k)}
    refs = {k: references[k] for k in scored}
    if len(scored) < len(predictions):
        logger.warning(
            "%d of %d rows have no references and are not scored",
            len(predictions) - len(scored),
            len(predictions),
        )
    return {
        "cider": cider(scored, refs, tokenizer),
        "bleu4": bleu4(scored, refs, tokenizer),
        "n": len(scored),
    }
