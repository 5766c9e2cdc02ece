"""Shared test set-up: load the plugin once through fairseq, locate ``../shared``, share the
cores among pytest-xdist workers and keep each test file on one worker."""

import argparse
import os
from pathlib import Path

import pytest
import torch
from helpers import TEST_THREADS, require_folder

REPO_ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = REPO_ROOT / "fairseq_plugins" / "unival"
SHARED_DIR = REPO_ROOT.parent / "shared"

# one thread per worker when the workers fill the cores; the processes the tests start
# (fairseq-train, unival, the run scripts) inherit the same limit through the environment
torch.set_num_threads(TEST_THREADS)
os.environ["OMP_NUM_THREADS"] = str(TEST_THREADS)


def _load_plugin():
    from fairseq import utils

    utils.import_user_module(argparse.Namespace(user_dir=str(PLUGIN_DIR)))


_load_plugin()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def plugin_dir() -> Path:
    return PLUGIN_DIR


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout; tests that need it skip with a reason when absent,
    except under CI (``CI=true``), where a missing fixture folder is a failure: a broken path
    must not turn the parity tests into silent skips."""
    return require_folder(SHARED_DIR, "official BPE/parity files live there")


@pytest.fixture(scope="session")
def parity_dir(shared_dir) -> Path:
    return require_folder(shared_dir / "parity", "the reference parity fixtures live there")


@pytest.fixture(scope="session")
def bart_dict_path(shared_dir) -> Path:
    return shared_dir / "bpe" / "dict.txt"


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` are device checks: without CUDA they are deselected (they cannot
    run on this machine), not skipped; the device script runs them with ``-m gpu``."""
    if torch.cuda.is_available():
        return
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if gpu_items:
        config.hook.pytest_deselected(items=gpu_items)
        items[:] = [item for item in items if not item.get_closest_marker("gpu")]


def pytest_report_header(config):
    if not torch.cuda.is_available():
        return "no CUDA: tests marked 'gpu' are deselected (run them on a GPU machine with -m gpu)"


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """With ``--dist loadgroup`` (pyproject's addopts), each test file is one unit of work, so a
    module-scoped fixture (a trained toy checkpoint, a CLI run) is built once, on one worker;
    files whose tests share a session-scoped fixture carry one ``xdist_group`` mark and run
    together on one worker too."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FileOrGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.rfind("@") > nodeid.rfind("]"):  # ``test_x.py::test_y@group``
                return nodeid.split("@")[-1]
            return nodeid.split("::", 1)[0]

    return FileOrGroupScheduling(config, log)
