"""``python -m unival.demo``: the same as ``unival demo``."""

import sys

from unival.cli import main

sys.exit(main(["demo", *sys.argv[1:]]))
