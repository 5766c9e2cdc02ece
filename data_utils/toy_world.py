#!/usr/bin/env python
"""Write the synthetic toy world (coloured shapes + compositional captions).

    python data_utils/toy_world.py --out DIR [--seed 0 --num-train 2000 --num-valid 100
                                              --num-test 200 --image-size 64]

Writes the toy world files (see :mod:`unival.toy_world.build`): task TSVs in the official
layouts, ``scenes_{split}.json``, images, answer files and ``dict.txt``, under ``DIR``.
The implementation is :mod:`unival.commands.toy_world` (also ``unival toy-world``).
"""

import sys

from unival.commands.toy_world import main

if __name__ == "__main__":
    sys.exit(main())
