"""What every demo stage shares: where the run scripts are, the subprocess environment,
the output folder and small TSV helpers.

The demo drives the repository's ``run_scripts/`` and ``data_utils/``, so it runs from a
checkout: the checkout is found above this file, or named by ``UNIVAL_HOME``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

from unival.data.schemas import CAPTION, TSVSchema, read_rows
from unival.demo.schedule import ExpertPool


def find_checkout() -> Path:
    """The repository checkout holding ``run_scripts/``: ``$UNIVAL_HOME``, else above this file.

    Falls back to the path above this file even when it has no ``run_scripts/`` (an installed
    wheel); :meth:`DemoContext.run` then says what to set.
    """
    home = os.environ.get("UNIVAL_HOME")
    if home:
        return Path(home).expanduser().resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "run_scripts").is_dir() and (parent / "data_utils").is_dir():
            return parent
    return here.parents[3]


REPO_ROOT = find_checkout()
RUN_SCRIPTS = REPO_ROOT / "run_scripts"
TOY_WORLD_SCRIPT = REPO_ROOT / "data_utils" / "toy_world.py"


def require_checkout() -> None:
    """Stop with one line when the run scripts cannot be found (e.g. from an installed wheel)."""
    if not RUN_SCRIPTS.is_dir():
        raise SystemExit(
            f"the demo runs the repository's run scripts, and {RUN_SCRIPTS} does not exist: "
            "run it from a clone of the repository, or set UNIVAL_HOME to one"
        )


@dataclass
class DemoContext:
    """What every stage shares: the output folder, the seed and the subprocess environment."""

    out: Path
    seed: int
    env: Dict[str, str]
    world: Optional[Path] = (
        None  # the toy world the multitask stage wrote (the media stage reuses it)
    )
    base: Optional[Path] = None  # the multitask stage's base checkpoint
    experts: Optional[Dict[str, Path]] = (
        None  # the multitask stage's expert checkpoints (task -> .pt)
    )
    device: str = "cpu"  # the run scripts' DEVICE for every training and evaluation
    image_size: int = 64  # the toy world's image size (the probes evaluate at it)
    # the experts' workers, shared by the stages (None: each stage makes its own)
    pool: Optional["ExpertPool"] = None
    # called once the multitask stage's experts are queued in the pool: the pipeline starts
    # the media stage there, so that its experts take the first worker the image experts free
    experts_queued: Optional[Callable[[], None]] = None

    def run(
        self, cmd: List[str], log_path: Path, extra_env: Optional[Dict[str, str]] = None
    ) -> None:
        """Run ``cmd`` with stdout+stderr appended to ``log_path``; raise naming the log on
        failure."""
        env = {**self.env, **(extra_env or {})}
        with open(log_path, "a") as log:
            log.write(f"$ {' '.join(cmd)}\n")
            log.flush()
            proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        if proc.returncode != 0:
            raise RuntimeError(
                f"{Path(cmd[0]).name} {' '.join(cmd[1:2])} failed "
                f"(exit {proc.returncode}); see {log_path}"
            )


def read_captions(path: Path, schema: TSVSchema = CAPTION) -> List[str]:
    """The ``caption`` column of a caption / video caption / audio caption TSV."""
    return [row["caption"] for row in read_rows(path, schema)]


def read_references(path: Path, schema: TSVSchema = CAPTION) -> Dict[str, List[str]]:
    """``{media id: [reference, ...]}`` of an evaluation caption TSV ("&&"-joined references);
    the media id is the schema's second column (``image_id``, ``video_id``, ``audio_id``)."""
    key = schema.columns[1]
    return {
        row[key]: [r for r in row["caption"].split("&&") if r.strip()]
        for row in read_rows(path, schema)
    }


def shuffle_rows(src: Path, dst: Path, seed: int) -> None:
    """Write ``src``'s lines to ``dst`` in a seeded random order (the recipe shuffles files offline:
    batches are consecutive rows, and the toy world lists an image's captions together)."""
    rows = src.read_text(encoding="utf-8").splitlines(keepends=True)
    random.Random(seed).shuffle(rows)
    dst.write_text("".join(rows), encoding="utf-8")


def run_script_variables() -> set:
    """Names of the environment variables the run scripts read (``${NAME...}``,
    ``path_default``)."""
    names = set()
    for script in RUN_SCRIPTS.rglob("*.sh"):
        text = script.read_text()
        names.update(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
        for var, base in re.findall(r"path_default\s+([A-Z][A-Z0-9_]*)\s+([A-Z][A-Z0-9_]*)", text):
            names.update((var, base))
    return names


def demo_environment() -> Dict[str, str]:
    """This process's environment without any run-script setting (the demo's recipe is fixed),
    with this Python's bin directory first on PATH (fairseq-train, unival) and 2 OpenMP threads."""
    env = {k: v for k, v in os.environ.items() if k not in run_script_variables()}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    env["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", "2")
    env["PYTHON"] = sys.executable
    return env


def write_head(src: Path, dst: Path, rows: int) -> int:
    """Copy the first ``rows`` lines of ``src`` to ``dst``; returns how many were written."""
    with open(src, encoding="utf-8") as handle:
        lines = [line for _, line in zip(range(rows), handle)]
    dst.write_text("".join(lines), encoding="utf-8")
    return len(lines)


def dump_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def demo_parser(
    prog: str, description: str, default_out: str, smoke_help: str
) -> argparse.ArgumentParser:
    """The options both demos take: ``--out``, ``--seed``, ``--smoke``."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--out", default=default_out, help=f"output folder (default: {default_out})"
    )
    parser.add_argument("--seed", type=int, default=0, help="toy world seed (default: 0)")
    parser.add_argument("--smoke", action="store_true", help=smoke_help)
    return parser


def log_demo_progress(label: str) -> None:
    """INFO lines ``HH:MM:SS | label | message`` on stderr. ``force``: importing fairseq has
    already configured the root logger."""
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s | {label} | %(message)s",
        datefmt="%H:%M:%S",
        force=True,
    )
