"""Thin command-line entry points: one module per ``unival`` subcommand.

Each module parses its arguments and calls library code; ``main(argv) -> exit status``.
:mod:`unival.cli` dispatches ``unival COMMAND ARGS`` to them. Nothing in the library imports
from here.
"""
