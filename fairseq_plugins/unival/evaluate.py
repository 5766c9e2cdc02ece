"""Evaluate a checkpoint on a TSV with its task: ``python -m unival.evaluate`` / ``unival eval``.

    python -m unival.evaluate CHECKPOINT --data test.tsv --results-path DIR \\
        [--gen-subset test] [--beam 5 --max-len-b 22 --no-repeat-ngram-size 3] [--batch-size 16] [--ema-eval]

Loads the checkpoint (and its task) with fairseq's ``load_model_ensemble_and_task``
(``--data`` and the other data options override the saved ones; ``a.pt:b.pt`` ensembles;
``--ema-eval`` loads ``extra_state["ema"]`` in fp32 instead of ``model``). Generation uses
the task's settings of :data:`unival.hub.generation.GENERATION_DEFAULTS` (the ones the
Python API uses), each generation flag given overriding its value; the settings used are
logged. Every row is predicted, the metric table is printed to stdout, and

* captioning tasks write ``DIR/predictions.json``: ``[{"image_id": ..., "caption": ...}]``,
  punctuation-stripped, the first prediction per image id (the TSV's first selected column),
  and ``DIR/scores.json``: ``{"cider": ..., "bleu4": ..., "n": ..., "nskipped": ...}``,
  corpus CIDEr-D and BLEU-4 against the "&&" references;
* tasks with ``evaluate_split`` (VQA, grounding, entailment, video QA) write their own
  per-row records and scores to the same two files.

Probe metrics (``--metric chair|pope|probe``, ``--domains``) and zero-shot evaluation
(``--zero-shot --task T --noconstraints --prompt-type none``, spec §8.4) are described in
:mod:`unival.evaluate_extras`.

``fairseq-generate DATA --user-dir fairseq_plugins/unival --task caption --path ckpt.pt
--gen-subset test --batch-size 16`` works as well (it prints hypotheses instead).
"""
import argparse
import json
import logging
import os
import sys
import time
from argparse import Namespace
from typing import Dict, List, Optional, Sequence

import torch

logger = logging.getLogger("unival.evaluate")

# command-line option -> task config field, applied as fairseq arg_overrides when given
DATA_OVERRIDES = ("selected_cols", "dict_path", "bpe_dir", "image_dir", "patch_image_size", "constraint_range",
                  "ans2label_file", "val_inference_type",
                  "acc_thresh", "min_area_size", "max_area_size", "medium_area",
                  "num_frames", "patch_frame_size", "eval_sample_type", "max_audio_len", "audio_sample_rate",
                  "sample_rate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unival eval", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("checkpoint", help="checkpoint file (several joined by ':' form an ensemble)")
    parser.add_argument("--data", required=True, help="the TSV to evaluate")
    parser.add_argument("--results-path", required=True, help="directory for predictions.json and scores.json")
    parser.add_argument("--gen-subset", default="test", help="split name given to the task")
    parser.add_argument("--selected-cols", help="override the saved --selected-cols (evaluation: 1,4,2)")
    parser.add_argument("--dict-path", help="override the saved dictionary path")
    parser.add_argument("--bpe-dir", help="override the saved BPE directory")
    parser.add_argument("--image-dir", help="override the saved image directory")
    parser.add_argument("--patch-image-size", type=int, help="override the saved image size")
    parser.add_argument("--constraint-range", help="override the saved constraint range")
    parser.add_argument("--ans2label-file", help="override the saved candidate answers (vqa_gen)")
    parser.add_argument("--val-inference-type", choices=("allcand", "beamsearch"),
                        help="vqa_gen: score all candidates or beam-search (default: the saved setting)")
    parser.add_argument("--beam-search-vqa-eval", dest="val_inference_type", action="store_const",
                        const="beamsearch", help="same as --val-inference-type beamsearch")
    parser.add_argument("--acc-thresh", help="refcoco: IoU threshold(s), comma list (default: the saved one)")
    parser.add_argument("--min-area-size", type=float, help="refcoco: count only GT boxes larger than this (px²)")
    parser.add_argument("--max-area-size", type=float, help="refcoco: count only GT boxes smaller than this (px²)")
    parser.add_argument("--medium-area", action="store_true", default=None,
                        help="refcoco: select medium boxes between the area bounds (spec 5.3)")
    media = parser.add_argument_group("video and audio (default: the saved settings)")
    media.add_argument("--num-frames", type=int, help="frames sampled per video")
    media.add_argument("--patch-frame-size", type=int, help="side of the centre-cropped frames")
    media.add_argument("--eval-sample-type", choices=("rand", "middle", "uniform"),
                       help="frame sampling of the evaluated split")
    media.add_argument("--max-audio-len", type=int, help="waveform samples per clip")
    media.add_argument("--audio-sample-rate", action="store_true", default=None,
                       help="resample audio to --sample-rate")
    media.add_argument("--sample-rate", type=int, help="target rate of --audio-sample-rate")
    parser.add_argument("--model-overrides", default="{}", help="JSON of model config overrides")
    parser.add_argument("--ema-eval", action="store_true",
                        help="evaluate the EMA weights stored in the checkpoint (extra_state['ema'], fp32)")
    gen = parser.add_argument_group(
        "generation", "a flag not given takes the checkpoint task's value in unival.hub.generation."
        "GENERATION_DEFAULTS, else fairseq's default (beam 5, max_len_b 200, min_len 1, ...)")
    gen.add_argument("--beam", type=int)
    gen.add_argument("--max-len-a", type=float)
    gen.add_argument("--max-len-b", type=int)
    gen.add_argument("--min-len", type=int)
    gen.add_argument("--no-repeat-ngram-size", type=int)
    gen.add_argument("--lenpen", type=float)
    gen.add_argument("--unnormalized", action=argparse.BooleanOptionalAction,
                     help="compare hypotheses by unnormalised score (--no-unnormalized: normalised)")
    gen.add_argument("--temperature", type=float)
    run = parser.add_argument_group("run")
    run.add_argument("--batch-size", type=int, default=16)
    run.add_argument("--num-workers", type=int, default=0)
    run.add_argument("--cpu", action="store_true", help="run on CPU even when CUDA is available")
    run.add_argument("--fp16", action="store_true", help="half-precision weights (CUDA only)")
    run.add_argument("--scorer-tokenizer", choices=("simple", "ptb"), default="simple",
                     help="tokenizer for CIDEr/BLEU: simple (Python) or ptb (pycocoevalcap, needs Java)")
    from unival import evaluate_extras

    evaluate_extras.add_arguments(parser)
    return parser


def ema_state(state: dict, path: str) -> Dict[str, torch.Tensor]:
    """``extra_state["ema"]`` of a loaded checkpoint in fp32 (what ``--ema-eval`` evaluates)."""
    from unival.hub.checkpoint import select_state_dict

    if (state.get("extra_state") or {}).get("ema") is None:
        raise ValueError(f"{path} has no EMA weights (extra_state['ema']): drop --ema-eval")
    return select_state_dict(state, ema=True, path=path)


def load_models_and_task(args: argparse.Namespace):
    """fairseq ``load_model_ensemble_and_task`` per file with the data options of ``args`` as
    overrides; with ``args.ema_eval`` each file's EMA weights replace its ``model``."""
    from fairseq import checkpoint_utils, utils

    import unival  # noqa: F401  (registers the task, model and criterion)
    from unival import evaluate_extras

    overrides: Dict[str, object] = {"data": args.data}
    for name in DATA_OVERRIDES:
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    overrides.update(evaluate_extras.task_overrides(args))
    overrides.update(evaluate_extras.model_overrides(args))
    overrides.update(json.loads(args.model_overrides))
    models, saved_cfg, task = [], None, None
    paths = utils.split_paths(args.checkpoint)
    if getattr(args, "zero_shot", False):
        task = evaluate_extras.zero_shot_task(args, paths[0], overrides)
    for path in paths:
        state = checkpoint_utils.load_checkpoint_to_cpu(path, arg_overrides=overrides)
        if getattr(args, "ema_eval", False):
            state["model"] = ema_state(state, path)
        loaded, saved_cfg, task = checkpoint_utils.load_model_ensemble_and_task(
            [path], arg_overrides=overrides, task=task, state=state)
        models += loaded
        logger.info("loaded %s (%s weights)", path, "EMA" if getattr(args, "ema_eval", False) else "model")
    use_cuda = torch.cuda.is_available() and not args.cpu
    for model in models:
        model.eval()
        if args.fp16 and use_cuda:
            model.half()
        if use_cuda:
            model.cuda()
    return models, saved_cfg, task, use_cuda


GENERATION_FLAGS = ("beam", "max_len_a", "max_len_b", "min_len", "no_repeat_ngram_size", "lenpen",
                    "unnormalized", "temperature")


def generation_args(args: argparse.Namespace, task_name: str) -> Namespace:
    """Every generation value: ``task_name``'s spec settings, then the flags given in ``args``."""
    from unival.hub.generation import effective_settings

    given = {name: getattr(args, name) for name in GENERATION_FLAGS if getattr(args, name) is not None}
    return Namespace(**effective_settings(task_name, given))


def _json_id(value: str):
    """COCO image ids are integers: "397133" -> 397133; anything else stays a string."""
    return int(value) if value.isdigit() else value


def generate_captions(task, models, generator, itr, use_cuda: bool, fp16: bool):
    """Run the generator over ``itr``; return predictions, references (by image id) and skipped count."""
    from fairseq import utils

    from unival.metrics.caption import strip_punctuation

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
                    lambda t: t.half() if t.dtype is torch.float32 else t, sample)
        hyps = task.generate_texts(generator, models, sample)
        ids = sample.get("uniq_ids") or [str(i) for i in sample["id"].tolist()]
        refs = sample.get("references") or [[] for _ in ids]
        for image_id, hyp, ref in zip(ids, hyps, refs):
            key = _json_id(image_id)
            if key not in predictions:  # the first prediction per image is kept
                predictions[key] = strip_punctuation(hyp)
                references[key] = list(ref)
    return predictions, references, nskipped


def score(predictions: Dict[object, str], references: Dict[object, List[str]], tokenizer: str) -> Dict[str, float]:
    from unival.metrics.caption import bleu4, cider

    scored = {k: v for k, v in predictions.items() if references.get(k)}
    refs = {k: references[k] for k in scored}
    if len(scored) < len(predictions):
        logger.warning("%d of %d rows have no references and are not scored",
                       len(predictions) - len(scored), len(predictions))
    return {"cider": cider(scored, refs, tokenizer), "bleu4": bleu4(scored, refs, tokenizer), "n": len(scored)}


def write_results(results_path: str, predictions: Dict[object, str], scores: Dict[str, float]) -> None:
    os.makedirs(results_path, exist_ok=True)
    with open(os.path.join(results_path, "predictions.json"), "w") as f:
        json.dump([{"image_id": k, "caption": v} for k, v in predictions.items()], f, indent=1)
    with open(os.path.join(results_path, "scores.json"), "w") as f:
        json.dump(scores, f, indent=1)


def write_records(results_path: str, records: List[dict], scores: Dict[str, float]) -> None:
    """``predictions.json`` (a task's per-sample records) and ``scores.json``."""
    os.makedirs(results_path, exist_ok=True)
    with open(os.path.join(results_path, "predictions.json"), "w") as f:
        json.dump(records, f, indent=1)
    with open(os.path.join(results_path, "scores.json"), "w") as f:
        json.dump(scores, f, indent=1)


def format_table(scores: Dict[str, float]) -> str:
    rows = [(k, f"{v:.4f}" if isinstance(v, float) else str(v)) for k, v in scores.items()]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{width}}  {v:>10}" for k, v in rows)


def main(argv: Optional[Sequence[str]] = None) -> int:
    from unival import evaluate_extras

    args = build_parser().parse_args(argv)
    evaluate_extras.check_arguments(args)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s | %(levelname)s | %(name)s | %(message)s",
                            stream=sys.stderr)
    start = time.time()
    models, _, task, use_cuda = load_models_and_task(args)
    from unival.hub.predictor import task_name_of

    task_name = task_name_of(task)
    gen_args = generation_args(args, task_name)
    given = sorted(name for name in GENERATION_FLAGS if getattr(args, name) is not None)
    logger.info("generation settings (%s defaults%s): %s", task_name,
                f", flags {', '.join(given)}" if given else "",
                ", ".join(f"{k}={v}" for k, v in vars(gen_args).items()))
    task.load_dataset(args.gen_subset)
    dataset = task.dataset(args.gen_subset)
    generator = task.build_generator(models, gen_args)
    itr = task.get_batch_iterator(dataset, max_sentences=args.batch_size, num_workers=args.num_workers,
                                  disable_iterator_cache=True).next_epoch_itr(shuffle=False)
    if hasattr(task, "evaluate_split"):  # tasks with their own predictions and scores (vqa_gen, snli_ve, ...)
        records, scores = task.evaluate_split(models, generator, itr, use_cuda=use_cuda, fp16=args.fp16)
        scores.update(evaluate_extras.record_extras(args, records))
        write_records(args.results_path, records, scores)
    else:
        predictions, references, nskipped = generate_captions(task, models, generator, itr, use_cuda, args.fp16)
        scores = score(predictions, references, args.scorer_tokenizer)
        scores["nskipped"] = nskipped
        scores.update(evaluate_extras.caption_extras(
            args, predictions, references, lambda p, r: score(p, r, args.scorer_tokenizer)))
        write_results(args.results_path, predictions, scores)
    logger.info("%s on %s: %d rows in %.1f s; wrote %s", args.checkpoint, args.data, len(dataset),
                time.time() - start, os.path.join(args.results_path, "predictions.json"))
    sys.stdout.write(f"{task_name} scores of {args.checkpoint} on {args.data}:\n{format_table(scores)}\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
