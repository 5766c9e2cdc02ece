"""``unival serve``: a local web page and a JSON API for every task (:mod:`unival.serving`).

unival serve                                    # the experts of the last `make demo` run
unival serve --model caption=ckpt.pt --model refcoco=exported/ --port 8000
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

from unival.hub.generation import add_generation_arguments, given_generation_flags
from unival.serving.models import (
    ModelSpecError,
    check_device,
    demo_experts,
    parse_model_specs,
    parse_task_generation,
)
from unival.serving.server import ServeConfig, go_offline, serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unival serve",
        description="Serve checkpoints as a web page (Gradio) and a JSON HTTP API.",
        epilog="Tasks: caption, vqa, ground (refcoco), entail (snli_ve), video_caption, video_qa, "
        "audio_caption. Without --model, the experts of the last `make demo` run are served.",
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="TASK=PATH",
        help="a task and its checkpoint (.pt or `unival export` folder); repeatable",
    )
    parser.add_argument(
        "--demo-dir",
        default="outputs/demo",
        help="where `make demo` wrote its experts (used when no --model is given)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: loopback only)"
    )
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when available)")
    parser.add_argument(
        "--dtype",
        default="fp32",
        choices=("fp32", "bf16", "fp16"),
        help="bf16/fp16: autocast on a GPU (default fp32)",
    )
    parser.add_argument("--dict-path", help="dict.txt (BART's for released checkpoints)")
    parser.add_argument("--bpe-dir", help="folder with encoder.json and vocab.bpe")
    parser.add_argument(
        "--ans2label-file", help="VQA candidate answers (if the checkpoint's file is not here)"
    )
    parser.add_argument("--ema", action="store_true", help="use the EMA weights of the checkpoints")
    parser.add_argument(
        "--trusted", action="store_true", help="allow full unpickling (files you trust only)"
    )
    parser.add_argument(
        "--max-batch-size",
        type=int,
        default=8,
        help="most requests of one task run together (1: no batching)",
    )
    parser.add_argument(
        "--batch-wait-ms",
        type=float,
        default=10.0,
        help="how long a batch waits for more requests once its first has arrived",
    )
    parser.add_argument(
        "--no-examples", action="store_true", help="no toy-world example files on the page"
    )
    gen = add_generation_arguments(parser)
    gen.add_argument(
        "--task-generation",
        action="append",
        default=[],
        metavar="TASK:OPTION=VALUE",
        help="one task's option over the flags above, e.g. caption_audio:max_len_b=20; repeatable",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)

    go_offline()  # before gradio is imported: no analytics, no Hugging Face calls
    try:
        import gradio  # noqa: F401
    except ImportError:
        sys.stderr.write(
            "unival serve: needs gradio (pip install gradio==6.31.0, as `make venv` does)\n"
        )
        return 2

    try:
        if args.max_batch_size < 1:
            raise ModelSpecError(f"--max-batch-size {args.max_batch_size}: must be at least 1")
        check_device(args.device, args.dtype)
        task_generation = parse_task_generation(args.task_generation)
        models = parse_model_specs(args.model)
        if not args.model:
            models = demo_experts(args.demo_dir)
            if not models:
                raise ModelSpecError(
                    f"no --model given and no `make demo` experts under {args.demo_dir}: "
                    f"run `make demo` first, or pass --model TASK=CHECKPOINT"
                )
    except ModelSpecError as error:
        sys.stderr.write(f"unival serve: {error}\n")
        return 2
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(levelname)s | %(name)s | %(message)s", stream=sys.stderr
        )
    generation = given_generation_flags(args)
    return serve(
        ServeConfig(
            models=models,
            host=args.host,
            port=args.port,
            device=args.device,
            dtype=args.dtype,
            dict_path=args.dict_path,
            bpe_dir=args.bpe_dir,
            ans2label_file=args.ans2label_file,
            ema=args.ema,
            trusted=args.trusted,
            generation=generation,
            task_generation=task_generation,
            max_batch_size=args.max_batch_size,
            batch_wait_ms=args.batch_wait_ms,
            examples=not args.no_examples,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
