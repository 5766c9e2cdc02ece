"""``unival predict --task T --model M INPUTS...``: batched prediction to JSONL.

INPUTS are media files, folders (their files of the task's modality, by suffix, sorted), glob
patterns, or TSV files whose rows are ``media<TAB>text`` (the text: question, expression or
hypothesis; relative paths are resolved against the TSV's folder). The task decides the
modality: images for caption/vqa/refcoco/snli_ve, videos for video_caption/video_vqa_gen,
audio for audio_caption. Tasks that need a text take it from the TSV or from ``--text``
(one text for every input). One JSON line per input goes to ``--output``
(default stdout); every input named, even a missing file or an undecodable TSV row, gets
exactly one line: its result, or ``"error"`` with the reason (``--fail-on-bad-input`` stops at
the first instead). The last line on stderr counts the failed inputs; the exit status is 1
when any input failed, 0 when all succeeded. ``--draw-boxes DIR`` saves each grounding input
with its box drawn.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import List, Optional, Sequence

from tqdm import tqdm

from unival.commands.user_errors import UserInputError
from unival.hub import PredictionError, load
from unival.hub.generation import add_generation_arguments, given_generation_flags
from unival.hub.input_files import MEDIA_SUFFIXES, InputItem, draw_box, expand_inputs

logger = logging.getLogger("unival.predict")

#: --task choices -> predictor method (official task names accepted)
TASK_METHODS = {
    "caption": "caption",
    "vqa": "vqa",
    "vqa_gen": "vqa",
    "ground": "ground",
    "refcoco": "ground",
    "entail": "entail",
    "snli_ve": "entail",
    "video_caption": "caption_video",
    "caption_video": "caption_video",
    "video_qa": "video_qa",
    "video_vqa_gen": "video_qa",
    "audio_caption": "caption_audio",
    "caption_audio": "caption_audio",
}
TEXT_METHODS = {
    "vqa": "question",
    "ground": "expression",
    "entail": "hypothesis",
    "video_qa": "question",
}
METHOD_MODALITY = {
    "caption": "image",
    "vqa": "image",
    "ground": "image",
    "entail": "image",
    "caption_video": "video",
    "video_qa": "video",
    "caption_audio": "audio",
}
RESULT_KEYS = {
    "caption": "caption",
    "vqa": "answer",
    "ground": "box",
    "entail": "answer",
    "caption_video": "caption",
    "video_qa": "answer",
    "caption_audio": "caption",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unival predict", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "inputs",
        nargs="+",
        help="image/video/audio files, folders, glob patterns or media<TAB>text TSV files",
    )
    parser.add_argument("--task", required=True, choices=sorted(TASK_METHODS))
    parser.add_argument(
        "--model", required=True, help="checkpoint .pt or a folder written by 'unival export'"
    )
    parser.add_argument(
        "--text", help="the question/expression/hypothesis for every input (else from the TSV)"
    )
    parser.add_argument("--output", "-o", help="JSONL output file (default: stdout)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--draw-boxes", metavar="DIR", help="grounding: save each image with its box drawn here"
    )
    parser.add_argument("--dict-path", help="dict.txt (BART's for released checkpoints)")
    parser.add_argument("--bpe-dir", help="folder with encoder.json and vocab.bpe")
    parser.add_argument(
        "--ans2label-file", help="VQA candidate answers (if the checkpoint's file is not here)"
    )
    parser.add_argument(
        "--inference",
        choices=("allcand", "beamsearch"),
        help="VQA: candidate scoring or beam search",
    )
    parser.add_argument("--ema", action="store_true", help="use the EMA weights of the checkpoint")
    parser.add_argument(
        "--trusted", action="store_true", help="allow full unpickling (files you trust only)"
    )
    parser.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when available)")
    parser.add_argument(
        "--fail-on-bad-input", action="store_true", help="stop at the first unreadable input"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_generation_arguments(parser)
    return parser


def with_texts(
    items: List[InputItem], text_name: Optional[str], text: Optional[str]
) -> List[InputItem]:
    """Items with ``--text`` filled in; an item the task cannot run without a text gets an error."""
    if not text_name:
        return items
    if text is not None:
        return [item._replace(text=text) for item in items]
    if items and all(item.text is None for item in items if item.error is None):
        raise UserInputError(
            f"--task needs a {text_name} per input (--text, or media<TAB>{text_name} rows in a TSV)"
        )
    return [
        item._replace(error=f"{item.media}: no {text_name} in its TSV row")
        if item.error is None and item.text is None
        else item
        for item in items
    ]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Predict every input; exit status 1 when any input failed (each has an "error" line)."""
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(levelname)s | %(name)s | %(message)s", stream=sys.stderr
        )
    method = TASK_METHODS[args.task]
    modality = METHOD_MODALITY[method]
    text_name = TEXT_METHODS.get(method)
    items = with_texts(expand_inputs(args.inputs, MEDIA_SUFFIXES[modality]), text_name, args.text)
    refused = [item.error for item in items if item.error is not None]
    if refused and args.fail_on_bad_input:
        raise UserInputError(refused[0])
    runnable = [item for item in items if item.error is None]
    predictor = results = None
    if runnable:
        overrides = {"ans2label_file": args.ans2label_file} if args.ans2label_file else None
        predictor = load(
            args.model,
            dict_path=args.dict_path,
            bpe_dir=args.bpe_dir,
            ema=args.ema,
            trusted=args.trusted,
            device=args.device,
            task_overrides=overrides,
        )
        task_overrides = {"val_inference_type": args.inference} if args.inference else None
        results = predictor.iter_predict(
            method,
            [item.media for item in runnable],
            [item.text for item in runnable] if text_name else None,
            batch_size=args.batch_size,
            generation=given_generation_flags(args),
            task_overrides=task_overrides,
            skip_bad=not args.fail_on_bad_input,
        )
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    failures, start = 0, time.time()
    try:
        for index, item in enumerate(tqdm(items, unit="input", disable=args.no_progress or None)):
            record = {"input": item.media}
            if text_name:
                record[text_name] = item.text
            result = (
                PredictionError(index, item.error) if item.error is not None else next(results)[1]
            )
            if isinstance(result, PredictionError):
                failures += 1
                record["error"] = result.reason
                logger.warning("input %d (%s) failed: %s", index, item.media, result.reason)
            else:
                record[RESULT_KEYS[method]] = (
                    [round(c, 2) for c in result] if method == "ground" else result
                )
                if method == "ground" and args.draw_boxes:
                    record["drawn"] = draw_box(item.media, result, args.draw_boxes, index)
            out.write(json.dumps(record) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    elapsed = time.time() - start
    if predictor is not None:
        logger.info(
            "%d inputs (%d failed) in %.1f s: %.2f inputs/s (batch %d, %s)",
            len(items),
            failures,
            elapsed,
            len(items) / max(elapsed, 1e-9),
            args.batch_size,
            predictor.generation_summary(method, **given_generation_flags(args)),
        )
    sys.stderr.write(
        f"unival predict: {len(items)} inputs, {failures} failed"
        + (' (their lines carry "error")' if failures else "")
        + "\n"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
