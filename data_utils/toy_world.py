#!/usr/bin/env python
"""Write the synthetic toy world (coloured shapes + compositional captions).

    python data_utils/toy_world.py --out DIR [--seed 0 --num-train 2000 --num-valid 100
                                              --num-test 200 --image-size 64]

Writes ``caption_{train,valid,test}.tsv`` (official caption layout), ``scenes_{split}.json``
(ground truth) and ``dict.txt`` (built from the train captions and prompts) under ``DIR``.
The implementation is :mod:`unival.toy_world.cli` (also ``unival toy-world``).
"""
import sys

from unival.toy_world.cli import main

if __name__ == "__main__":
    sys.exit(main())
