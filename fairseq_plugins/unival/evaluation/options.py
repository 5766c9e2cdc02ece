"""The options of ``unival eval`` (:func:`build_parser`) and their checks.

Kept in the library (as fairseq keeps ``fairseq.options``) because the merging sweep
validates and runs evaluations in-process with the same parser.
"""

import argparse

from unival.evaluation.probe_metrics import METRICS
from unival.hub.generation import add_generation_arguments

DESCRIPTION = "Evaluate a checkpoint on a TSV with its task."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unival eval",
        description=DESCRIPTION,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "checkpoint", help="checkpoint file (several joined by ':' form an ensemble)"
    )
    parser.add_argument("--data", required=True, help="the TSV to evaluate")
    parser.add_argument(
        "--results-path", required=True, help="directory for predictions.json and scores.json"
    )
    parser.add_argument("--gen-subset", default="test", help="split name given to the task")
    parser.add_argument(
        "--selected-cols", help="override the saved --selected-cols (evaluation: 1,4,2)"
    )
    parser.add_argument("--dict-path", help="override the saved dictionary path")
    parser.add_argument("--bpe-dir", help="override the saved BPE directory")
    parser.add_argument("--image-dir", help="override the saved image directory")
    parser.add_argument("--patch-image-size", type=int, help="override the saved image size")
    parser.add_argument("--constraint-range", help="override the saved constraint range")
    parser.add_argument("--ans2label-file", help="override the saved candidate answers (vqa_gen)")
    parser.add_argument(
        "--val-inference-type",
        choices=("allcand", "beamsearch"),
        help="vqa_gen: score all candidates or beam-search (default: the saved setting)",
    )
    parser.add_argument(
        "--beam-search-vqa-eval",
        dest="val_inference_type",
        action="store_const",
        const="beamsearch",
        help="same as --val-inference-type beamsearch",
    )
    parser.add_argument(
        "--acc-thresh", help="refcoco: IoU threshold(s), comma list (default: the saved one)"
    )
    parser.add_argument(
        "--min-area-size", type=float, help="refcoco: count only GT boxes larger than this (px²)"
    )
    parser.add_argument(
        "--max-area-size", type=float, help="refcoco: count only GT boxes smaller than this (px²)"
    )
    parser.add_argument(
        "--medium-area",
        action="store_true",
        default=None,
        help="refcoco: select medium boxes between the area bounds",
    )
    media = parser.add_argument_group("video and audio (default: the saved settings)")
    media.add_argument("--num-frames", type=int, help="frames sampled per video")
    media.add_argument("--patch-frame-size", type=int, help="side of the centre-cropped frames")
    media.add_argument(
        "--eval-sample-type",
        choices=("rand", "middle", "uniform"),
        help="frame sampling of the evaluated split",
    )
    media.add_argument("--max-audio-len", type=int, help="waveform samples per clip")
    media.add_argument(
        "--audio-sample-rate",
        action="store_true",
        default=None,
        help="resample audio to --sample-rate",
    )
    media.add_argument("--sample-rate", type=int, help="target rate of --audio-sample-rate")
    parser.add_argument("--model-overrides", default="{}", help="JSON of model config overrides")
    parser.add_argument(
        "--ema-eval",
        action="store_true",
        help="evaluate the EMA weights stored in the checkpoint (extra_state['ema'], fp32)",
    )
    add_generation_arguments(parser)
    run = parser.add_argument_group("run")
    run.add_argument("--batch-size", type=int, default=16)
    run.add_argument("--num-workers", type=int, default=0)
    run.add_argument("--cpu", action="store_true", help="run on CPU even when CUDA is available")
    run.add_argument("--fp16", action="store_true", help="half-precision weights (CUDA only)")
    run.add_argument(
        "--scorer-tokenizer",
        choices=("simple", "ptb"),
        default="simple",
        help="tokenizer for CIDEr/BLEU: simple (Python) or ptb (pycocoevalcap, needs Java)",
    )
    add_probe_and_zero_shot_arguments(parser)
    return parser


def add_probe_and_zero_shot_arguments(parser: argparse.ArgumentParser) -> None:
    probes = parser.add_argument_group("probe metrics")
    probes.add_argument(
        "--metric",
        action="append",
        choices=METRICS,
        default=[],
        help="extra metric (repeatable): chair (captions), pope (VQA yes/no), probe (per category)",
    )
    probes.add_argument("--gt-objects", help="chair: COCO instances JSON or toy-world scenes JSON")
    probes.add_argument(
        "--labels", help="pope: labels JSON (default: DATA without .tsv + .labels.json)"
    )
    probes.add_argument(
        "--categories",
        help="probe: categories JSON (default: DATA without .tsv + .categories.json)",
    )
    probes.add_argument(
        "--domains", help="captions: JSON {image_id: domain}; adds CIDEr-D/BLEU-4 per domain"
    )
    zero = parser.add_argument_group("zero-shot")
    zero.add_argument(
        "--zero-shot",
        action="store_true",
        help="build the task from the command line (--task), sample_patch_num 776",
    )
    zero.add_argument(
        "--task", help="with --zero-shot: the task to evaluate (default: the checkpoint's)"
    )
    zero.add_argument(
        "--noconstraints",
        action="store_true",
        help="unconstrained generation: no answer trie, no constraint range",
    )
    zero.add_argument(
        "--prompt-type",
        choices=("none", "src", "prev_output"),
        help="vqa_gen decoder prompt (zero-shot VQA scripts: none)",
    )


def check_arguments(args: argparse.Namespace) -> None:
    if "chair" in args.metric and not args.gt_objects:
        raise SystemExit(
            "unival eval: --metric chair needs --gt-objects (COCO instances or toy scenes JSON)"
        )
    if args.task and not args.zero_shot:
        raise SystemExit("unival eval: --task only applies with --zero-shot")
