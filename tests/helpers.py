"""Helpers shared by the end-to-end tests: run the installed console scripts for real."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent  # the venv's console scripts (fairseq-train, unival, ...)


def run_logged(cmd, cwd, log_path, timeout=300) -> str:
    """Run ``cmd`` with output in ``log_path``; fail the test with the log's tail on error."""
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONUNBUFFERED="1")
    with open(log_path, "w") as log:
        result = subprocess.run(
            [str(c) for c in cmd],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
    text = Path(log_path).read_text()
    assert result.returncode == 0, f"{cmd[0]} failed (exit {result.returncode}):\n{text[-4000:]}"
    return text


def require_folder(path: Path, why: str) -> Path:
    """``path`` if it is a folder; else skip the test, or fail it when ``CI`` is set to true
    (a broken fixture path must not pass CI as a row of skips)."""
    if path.is_dir():
        return path
    reason = f"{path} is absent ({why})"
    if os.environ.get("CI", "").strip().lower() in {"true", "1"}:
        pytest.fail(f"{reason}; under CI=true the fixture folder is required", pytrace=False)
    pytest.skip(reason)
