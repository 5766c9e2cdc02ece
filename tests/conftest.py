"""Shared test set-up: load the plugin once through fairseq, locate ``../shared``."""

import argparse
import os
from pathlib import Path

import pytest
import torch
from helpers import require_folder

REPO_ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = REPO_ROOT / "fairseq_plugins" / "unival"
SHARED_DIR = REPO_ROOT.parent / "shared"

torch.set_num_threads(min(2, os.cpu_count() or 1))


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
