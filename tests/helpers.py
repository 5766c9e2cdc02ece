"""Helpers shared by the end-to-end tests: run the installed console scripts for real."""
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent  # the venv's console scripts (fairseq-train, unival, ...)


def run_logged(cmd, cwd, log_path, timeout=300) -> str:
    """Run ``cmd`` with output in ``log_path``; fail the test with the log's tail on error."""
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONUNBUFFERED="1")
    with open(log_path, "w") as log:
        result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, stdout=log,
                                stderr=subprocess.STDOUT, timeout=timeout)
    text = Path(log_path).read_text()
    assert result.returncode == 0, f"{cmd[0]} failed (exit {result.returncode}):\n{text[-4000:]}"
    return text
