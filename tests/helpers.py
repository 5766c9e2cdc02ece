"""Helpers shared by the tests: run the installed console scripts for real, load a
``benchmarks/`` script as a module."""

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent  # the venv's console scripts (fairseq-train, unival, ...)
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(name: str):
    """The script ``benchmarks/<name>.py`` as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _threads_per_test_process() -> int:
    """Torch/OpenMP threads for one test process: the usable cores shared among the
    pytest-xdist workers (``PYTEST_XDIST_WORKER_COUNT``), at most 2, at least 1. Two workers on
    two cores get one thread each, so they and the processes they start do not fight for cores.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, min(2, (cores or 1) // workers))


TEST_THREADS = _threads_per_test_process()


def free_port() -> int:
    """A loopback TCP port the OS reports free now: for servers and process groups that tests
    start side by side (parallel workers, another suite on the same machine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_logged(cmd, cwd, log_path, timeout=300) -> str:
    """Run ``cmd`` with output in ``log_path``; fail the test with the log's tail on error."""
    env = dict(os.environ, OMP_NUM_THREADS=str(TEST_THREADS), PYTHONUNBUFFERED="1")
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
