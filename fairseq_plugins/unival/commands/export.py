"""``unival export MODEL OUT_DIR``: write a checkpoint as a folder that loads without unpickling
(model.safetensors, config.json, dict.txt, encoder.json, vocab.bpe; :mod:`unival.hub.export`)."""

import argparse
import logging
import os
import sys
from typing import Optional, Sequence

from unival.hub.export import export_model
from unival.hub.load import load


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unival export",
        description=(
            "Write a checkpoint as a folder (model.safetensors, config.json, dict.txt, "
            "encoder.json, vocab.bpe) that unival.hub.load() reads without unpickling."
        ),
    )
    parser.add_argument("model", help="checkpoint .pt (or an exported folder to re-export)")
    parser.add_argument("out_dir", help="output folder (created; must be empty unless --overwrite)")
    parser.add_argument("--dict-path", help="dict.txt (BART's for released checkpoints)")
    parser.add_argument("--bpe-dir", help="folder with encoder.json and vocab.bpe")
    parser.add_argument(
        "--ema", action="store_true", help="export the EMA weights (extra_state['ema'])"
    )
    parser.add_argument(
        "--trusted", action="store_true", help="allow full unpickling (files you trust only)"
    )
    parser.add_argument(
        "--no-strict", dest="strict", action="store_false", help="tolerate missing/extra weights"
    )
    parser.add_argument("--overwrite", action="store_true", help="write into a non-empty folder")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(levelname)s | %(name)s | %(message)s", stream=sys.stderr
        )
    predictor = load(
        args.model,
        dict_path=args.dict_path,
        bpe_dir=args.bpe_dir,
        ema=args.ema,
        trusted=args.trusted,
        strict=args.strict,
        device="cpu",
    )
    export_model(predictor, args.out_dir, overwrite=args.overwrite)
    sys.stdout.write(os.path.abspath(args.out_dir) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
