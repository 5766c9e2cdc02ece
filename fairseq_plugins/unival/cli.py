"""The ``unival`` console command: one entry point for the toolkit's user-facing tools.

``unival COMMAND [ARGS...]`` hands ``ARGS`` unchanged to ``main(argv)`` of the command's module
in :mod:`unival.commands` (so ``unival eval --help`` shows the evaluator's options). Each
command's module is imported only when that command runs.

A new command is one module in ``unival/commands/`` and one more entry in ``COMMANDS``.

A user error raised by a command (:mod:`unival.commands.user_errors`: a missing or unreadable
file, a wrong format, a checkpoint that does not fit) is answered with one line,
``unival COMMAND: message``, and exit status 2; ``unival --debug COMMAND ...`` (or
``UNIVAL_DEBUG=1``) shows its traceback instead. Other exceptions are bugs and keep theirs.
"""

import argparse
import importlib
import importlib.metadata
import os
import platform
import sys
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

from unival import __version__
from unival.commands.user_errors import USER_ERROR_STATUS, describe, user_error_types


@dataclass(frozen=True)
class Command:
    """One subcommand: its one-line help and a callable ``run(argv) -> exit status``."""

    help: str
    run: Callable[[List[str]], Optional[int]]


def _call_main(module: str) -> Callable[[List[str]], Optional[int]]:
    """Return ``run(argv)`` that imports ``module`` only when called and runs its ``main``."""

    def run(argv: List[str]) -> Optional[int]:
        return importlib.import_module(module).main(argv)

    return run


def version_text() -> str:
    """``unival-toolkit X (fairseq-fixed Y, torch Z, python W)`` read from package metadata."""

    def dist_version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    deps = ", ".join(f"{name} {dist_version(name)}" for name in ("fairseq-fixed", "torch"))
    return f"unival-toolkit {__version__} ({deps}, python {platform.python_version()})"


def _run_version(argv: List[str]) -> int:
    argparse.ArgumentParser(prog="unival version", description="Print versions.").parse_args(argv)
    sys.stdout.write(version_text() + "\n")
    return 0


COMMANDS = {
    "eval": Command("evaluate a checkpoint on a test TSV", _call_main("unival.commands.eval")),
    "predict": Command(
        "batched image/video/audio captions, QA, boxes, entailment to JSONL",
        _call_main("unival.commands.predict"),
    ),
    "export": Command(
        "write a checkpoint as safetensors + config.json + dictionary/BPE files",
        _call_main("unival.commands.export"),
    ),
    "merge": Command(
        "merge checkpoints: interpolate, average, task arithmetic, TIES",
        _call_main("unival.commands.merge"),
    ),
    "pope": Command(
        "build POPE yes/no object-hallucination probes as vqa_gen TSVs",
        _call_main("unival.commands.pope"),
    ),
    "probe": Command(
        "complex-instruction probe suite: build TSVs, score per category",
        _call_main("unival.commands.probe"),
    ),
    "toy-world": Command(
        "write the synthetic toy world (TSV files, dict.txt, scenes)",
        _call_main("unival.commands.toy_world"),
    ),
    "demo": Command(
        "toy world -> train unival_tiny -> evaluate -> report (make demo)",
        _call_main("unival.commands.demo"),
    ),
    "demo-merge": Command(
        "toy experts -> interpolation / task arithmetic / TIES sweeps (make demo-merge)",
        _call_main("unival.commands.demo_merge"),
    ),
    "serve": Command(
        "a local web page and JSON API for every task, batched", _call_main("unival.commands.serve")
    ),
    "version": Command("print the toolkit, fairseq, torch and python versions", _run_version),
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser; it serves ``--help`` and errors, commands parse their own args."""
    parser = argparse.ArgumentParser(
        prog="unival",
        description="UnIVAL toolkit. Training itself is plain fairseq: "
        "fairseq-train DATA --user-dir fairseq_plugins/unival "
        "--task caption --arch unival_tiny ...",
        epilog="Run 'unival COMMAND --help' for a command's own options.",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the Python traceback of a refused input (UNIVAL_DEBUG=1 too)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        commands.add_parser(name, help=command.help, add_help=False)
    return parser


def run_command(name: str, argv: List[str], debug: bool = False) -> int:
    """Run command ``name``; a user error becomes one line on stderr and exit status 2."""
    try:
        status = COMMANDS[name].run(argv)
    except Exception as error:  # noqa: BLE001 - sorted into user errors and bugs just below
        if debug or not isinstance(error, user_error_types()):
            raise
        sys.stderr.write(f"unival {name}: {describe(error)}\n")
        return USER_ERROR_STATUS
    return int(status or 0)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``unival [--debug] COMMAND ARGS...``; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("UNIVAL_DEBUG", "").strip().lower() in {"1", "true", "yes"}
    if argv and argv[0] == "--debug":
        debug, argv = True, argv[1:]
    if argv and argv[0] in COMMANDS:
        return run_command(argv[0], argv[1:], debug)
    build_parser().parse_args(argv)  # prints help or a usage error, and exits
    return 2


if __name__ == "__main__":
    sys.exit(main())
