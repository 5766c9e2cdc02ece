"""``unival eval``'s pipeline: load, generate over the split, score, write.

Every row is predicted; generation takes the task's settings of
:data:`unival.hub.generation.GENERATION_DEFAULTS` (the ones the Python API uses), each
generation flag given overriding its value; the settings used are logged.

* captioning tasks write ``DIR/predictions.json``: ``[{"image_id": ..., "caption": ...}]``,
  punctuation-stripped, the first prediction per image id (the TSV's first selected column),
  and ``DIR/scores.json``: ``{"cider": ..., "bleu4": ..., "n": ..., "nskipped": ...}``,
  corpus CIDEr-D and BLEU-4 against the "&&" references;
* tasks with ``evaluate_split`` (VQA, grounding, entailment, video QA) write their own
  per-row records and scores to the same two files.

``fairseq-generate DATA --user-dir fairseq_plugins/unival --task caption --path ckpt.pt
--gen-subset test --batch-size 16`` works as well (it prints hypotheses instead).
"""

import argparse
import logging
import os
import sys
import time
from argparse import Namespace
from typing import Dict

from unival.evaluation.captions import caption_scores, generate_captions
from unival.evaluation.loading import load_models_and_task
from unival.evaluation.probe_metrics import caption_probe_scores, record_probe_scores
from unival.evaluation.results import caption_records, format_table, write_records
from unival.hub.generation import effective_settings, given_generation_flags
from unival.hub.predictor import task_name_of

logger = logging.getLogger("unival.evaluate")


def generation_args(args: argparse.Namespace, task_name: str) -> Namespace:
    """Every generation value: ``task_name``'s released-script settings, then the flags given
    in ``args``."""
    return Namespace(**effective_settings(task_name, given_generation_flags(args)))


def evaluate(args: argparse.Namespace) -> Dict[str, object]:
    """Evaluate ``args.checkpoint`` on ``args.data`` (the options of ``unival eval``); returns the
    scores written to ``scores.json`` after printing them."""
    start = time.time()
    models, _, task, use_cuda = load_models_and_task(args)
    task_name = task_name_of(task)
    gen_args = generation_args(args, task_name)
    given = sorted(given_generation_flags(args))
    logger.info(
        "generation settings (%s defaults%s): %s",
        task_name,
        f", flags {', '.join(given)}" if given else "",
        ", ".join(f"{k}={v}" for k, v in vars(gen_args).items()),
    )
    task.load_dataset(args.gen_subset)
    dataset = task.dataset(args.gen_subset)
    generator = task.build_generator(models, gen_args)
    itr = task.get_batch_iterator(
        dataset,
        max_sentences=args.batch_size,
        num_workers=args.num_workers,
        disable_iterator_cache=True,
    ).next_epoch_itr(shuffle=False)
    if hasattr(
        task, "evaluate_split"
    ):  # tasks with their own predictions and scores (vqa_gen, snli_ve, ...)
        records, scores = task.evaluate_split(
            models, generator, itr, use_cuda=use_cuda, fp16=args.fp16
        )
        scores.update(record_probe_scores(args, records))
    else:
        predictions, references, nskipped = generate_captions(
            task, models, generator, itr, use_cuda, args.fp16
        )
        scores = caption_scores(predictions, references, args.scorer_tokenizer)
        scores["nskipped"] = nskipped
        scores.update(
            caption_probe_scores(
                args,
                predictions,
                references,
                lambda p, r: caption_scores(p, r, args.scorer_tokenizer),
            )
        )
        records = caption_records(predictions)
    write_records(args.results_path, records, scores)
    logger.info(
        "%s on %s: %d rows in %.1f s; wrote %s",
        args.checkpoint,
        args.data,
        len(dataset),
        time.time() - start,
        os.path.join(args.results_path, "predictions.json"),
    )
    sys.stdout.write(
        f"{task_name} scores of {args.checkpoint} on {args.data}:\n{format_table(scores)}\n"
    )
    sys.stdout.flush()
    return scores
