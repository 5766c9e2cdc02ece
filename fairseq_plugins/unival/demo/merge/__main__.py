"""``python -m unival.demo.merge``: the same as ``unival demo-merge``."""

import sys

from unival.cli import main

sys.exit(main(["demo-merge", *sys.argv[1:]]))
